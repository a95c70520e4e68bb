/** CSV and TSV to text, one line per row naming each cell's column. Runs in time linear in its input. */

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF, newlines inside quotes). */
export function parseCsv(text: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  const n = text.length;
  let quoted = false;
  while (i < n) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      const next = text.indexOf('"', i);
      const stop = next === -1 ? n : next;
      field += text.slice(i, stop);
      i = stop;
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
      i++;
    } else if (ch === delimiter) {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\n' || ch === '\r') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      field += ch;
      i++;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export function csvToText(text: string, delimiter: string): string {
  const rows = parseCsv(text, delimiter).filter((row) => row.some((cell) => cell.trim() !== ''));
  const header = rows[0];
  if (header === undefined) return '';
  const names = header.map((name, index) => (name.trim() === '' ? `column_${index + 1}` : name.trim()));
  if (rows.length === 1) return names.join(', ');
  const lines: string[] = [];
  for (const row of rows.slice(1)) {
    const cells: string[] = [];
    row.forEach((value, index) => {
      const cell = value.trim();
      if (cell !== '') cells.push(`${names[index] ?? `column_${index + 1}`}: ${cell}`);
    });
    lines.push(cells.join(', '));
  }
  return lines.join('\n');
}

/** Semicolon- or tab-separated files saved as .csv are common; pick the likeliest delimiter. */
export function sniffDelimiter(text: string): string {
  const newline = text.search(/[\r\n]/);
  const firstLine = newline === -1 ? text : text.slice(0, newline);
  const count = (ch: string): number => firstLine.split(ch).length - 1;
  const candidates: Array<[string, number]> = [
    [',', count(',')],
    [';', count(';')],
    ['\t', count('\t')],
  ];
  let best: [string, number] = candidates[0]!;
  for (const candidate of candidates) if (candidate[1] > best[1]) best = candidate;
  return best[0];
}
