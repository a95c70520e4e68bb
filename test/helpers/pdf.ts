/**
 * PDF documents for the parser tests, built here with their xref offsets: plain ones (one text line
 * per page) and a hostile one whose text extraction takes exponential time in its tiny size.
 */

/** A PDF 1.4 file of `objects` (object n is objects[n-1]; object 1 is the catalog). */
function pdfOf(objects: readonly string[]): Buffer {
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

const FONT = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>';

/** A valid PDF with one Helvetica text line per page. */
export function makePdf(pages: readonly string[]): Buffer {
  const objects: string[] = [];
  const pageIds = pages.map((_, i) => 3 + i * 2);
  const fontId = 3 + pages.length * 2;
  objects.push('<< /Type /Catalog /Pages 2 0 R >>');
  objects.push(`<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages.length} >>`);
  pages.forEach((text, i) => {
    const stream = `BT /F1 24 Tf 72 720 Td (${text.replace(/[\\()]/g, (c) => `\\${c}`)}) Tj ET`;
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${pageIds[i]! + 1} 0 R /Resources << /Font << /F1 ${fontId} 0 R >> >> >>`);
    objects.push(`<< /Length ${Buffer.byteLength(stream, 'latin1')} >>\nstream\n${stream}\nendstream`);
  });
  objects.push(FONT);
  return pdfOf(objects);
}

/**
 * A PDF of about 2 KB whose one page draws a form `fan` times, which draws the next form `fan` times,
 * `depth` levels down to a form showing one letter: extracting its text walks fan^depth forms (pdfjs
 * walks each one again). Depth 5 (100,000 letters) took pdfjs 25 s on one core of the development
 * machine, during which a parse on the server's own thread answered nothing else; every level more
 * is ten times longer. Depth 7 is the tests' "never finishes".
 */
export function nestedFormsPdf(depth: number, fan = 10): Buffer {
  const draw = '/X Do '.repeat(fan);
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X 6 0 R >> >> >>',
    `<< /Length ${draw.length} >>\nstream\n${draw}\nendstream`,
    FONT,
  ];
  for (let level = 0; level < depth; level++) {
    const id = 6 + level;
    const last = level === depth - 1;
    const body = last ? 'BT /F1 12 Tf (a) Tj ET' : draw;
    const resources = last ? '/Font << /F1 5 0 R >>' : `/XObject << /X ${id + 1} 0 R >> /Font << /F1 5 0 R >>`;
    objects.push(`<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << ${resources} >> /Length ${body.length} >>\nstream\n${body}\nendstream`);
  }
  return pdfOf(objects);
}
