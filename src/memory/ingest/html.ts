/**
 * The visible text of HTML documents. Runs in time linear in its input; no regular expression
 * here can backtrack catastrophically.
 */

/** Elements whose content is never shown. */
const HIDDEN_ELEMENTS = new Set(['script', 'style', 'noscript', 'template', 'title', 'iframe', 'object', 'svg', 'math']);
/** Elements that may appear in <head>; any other start tag ends the head. */
const HEAD_ELEMENTS = new Set(['title', 'meta', 'link', 'base', 'style', 'script', 'noscript', 'template']);
/** Elements that separate paragraphs. */
const PARAGRAPH_ELEMENTS = new Set([
  'p',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'section',
  'article',
  'header',
  'footer',
  'main',
  'aside',
  'nav',
  'blockquote',
  'pre',
  'table',
  'ul',
  'ol',
  'dl',
  'figure',
  'form',
  'hr',
  'address',
  'details',
  'fieldset',
  'body',
  'html',
]);
/** Elements that start a new line. */
const LINE_ELEMENTS = new Set(['br', 'div', 'li', 'tr', 'dt', 'dd', 'option', 'figcaption', 'summary', 'caption', 'legend', 'thead', 'tbody', 'tfoot']);
/** Table cells: separated by a space. */
const CELL_ELEMENTS = new Set(['td', 'th']);

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  bull: '•',
  middot: '·',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  deg: '°',
  times: '×',
  divide: '÷',
  shy: '\u00ad',
  sect: '§',
  para: '¶',
  plusmn: '±',
  frac12: '½',
  frac14: '¼',
  frac34: '¾',
  eacute: 'é',
  egrave: 'è',
  agrave: 'à',
  aacute: 'á',
  ccedil: 'ç',
  ouml: 'ö',
  uuml: 'ü',
  auml: 'ä',
  szlig: 'ß',
  ntilde: 'ñ',
};

/** Bounded, unnested quantifiers only: linear. */
const ENTITY = /&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]{1,31}));?/g;

export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (match, decimal: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (name !== undefined) {
      const named = NAMED_ENTITIES[name] ?? NAMED_ENTITIES[name.toLowerCase()];
      if (named === undefined || (!match.endsWith(';') && !['amp', 'lt', 'gt', 'quot', 'nbsp'].includes(name.toLowerCase()))) return match;
      return named;
    }
    const code = decimal !== undefined ? Number.parseInt(decimal, 10) : Number.parseInt(hex!, 16);
    if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\ufffd';
    return String.fromCodePoint(code);
  });
}

function isAsciiLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** The visible text of an HTML document. */
export function htmlToText(html: string): string {
  const out: string[] = [];
  const n = html.length;
  let i = 0;
  let textStart = 0;
  let inHead = false;
  /** Line breaks owed before the next visible text: 0, 1 (new line) or 2 (blank line). */
  let pendingBreak = 0;

  const emitText = (end: number): void => {
    if (end <= textStart || inHead) return;
    const segment = decodeEntities(html.slice(textStart, end)).replace(/[\t\n\f\r ]+/g, ' ');
    if (pendingBreak > 0) {
      if (segment.trim() === '') return;
      out.push(pendingBreak === 2 ? '\n\n' : '\n');
      pendingBreak = 0;
    }
    out.push(segment);
  };

  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt === -1) break;
    const next = html.charCodeAt(lt + 1);
    // Comments, doctype, processing instructions.
    if (html.startsWith('<!--', lt)) {
      emitText(lt);
      const close = html.indexOf('-->', lt + 4);
      i = close === -1 ? n : close + 3;
      textStart = i;
      continue;
    }
    if (next === 0x21 /* ! */ || next === 0x3f /* ? */) {
      emitText(lt);
      const close = html.indexOf('>', lt + 2);
      i = close === -1 ? n : close + 1;
      textStart = i;
      continue;
    }
    const closing = next === 0x2f; /* / */
    const nameStart = closing ? lt + 2 : lt + 1;
    if (!isAsciiLetter(html.charCodeAt(nameStart))) {
      if (closing) {
        // "</" followed by a non-letter is a bogus comment up to the next ">".
        emitText(lt);
        const close = html.indexOf('>', lt + 2);
        i = close === -1 ? n : close + 1;
        textStart = i;
      } else {
        // A lone "<" is text.
        i = lt + 1;
      }
      continue;
    }
    emitText(lt);
    let nameEnd = nameStart;
    while (nameEnd < n) {
      const code = html.charCodeAt(nameEnd);
      if (isAsciiLetter(code) || (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x3a) nameEnd++;
      else break;
    }
    const name = html.slice(nameStart, nameEnd).toLowerCase();
    // Find the end of the tag, skipping quoted attribute values.
    let j = nameEnd;
    let tagEnd = -1;
    let afterEquals = false;
    while (j < n) {
      const code = html.charCodeAt(j);
      if (code === 0x3e /* > */) {
        tagEnd = j;
        break;
      }
      if (code === 0x3d /* = */) {
        afterEquals = true;
        j++;
        continue;
      }
      if ((code === 0x22 || code === 0x27) && afterEquals) {
        const close = html.indexOf(code === 0x22 ? '"' : "'", j + 1);
        if (close === -1) break;
        j = close + 1;
        afterEquals = false;
        continue;
      }
      if (!(code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d)) afterEquals = false;
      j++;
    }
    if (tagEnd === -1) {
      // A tag left open at the end of the document is dropped, as browsers do.
      i = n;
      textStart = n;
      break;
    }
    const selfClosing = html.charCodeAt(tagEnd - 1) === 0x2f;
    i = tagEnd + 1;
    textStart = i;

    if (!closing) {
      if (name === 'head') inHead = true;
      else if (inHead && !HEAD_ELEMENTS.has(name)) inHead = false;
      if (HIDDEN_ELEMENTS.has(name) && !selfClosing) {
        // Skip to the matching end tag (or the end of the document).
        const endTag = new RegExp(`</${name}(?=[\\s/>]|$)`, 'gi');
        endTag.lastIndex = i;
        const found = endTag.exec(html);
        if (found === null) {
          i = n;
        } else {
          const close = html.indexOf('>', found.index);
          i = close === -1 ? n : close + 1;
        }
        textStart = i;
        continue;
      }
    } else if (name === 'head') {
      inHead = false;
    }
    if (PARAGRAPH_ELEMENTS.has(name)) pendingBreak = 2;
    else if (name === 'br') pendingBreak = Math.min(2, pendingBreak + 1);
    else if (LINE_ELEMENTS.has(name)) pendingBreak = Math.max(pendingBreak, 1);
    else if (CELL_ELEMENTS.has(name) && pendingBreak === 0) out.push(' ');
  }
  emitText(n);

  // Tidy: nbsp to space, trim lines, at most one blank line in a row.
  const lines = out
    .join('')
    .replace(/\u00a0/g, ' ')
    .split('\n');
  const result: string[] = [];
  let blank = true;
  for (const raw of lines) {
    const line = raw.replace(/ {2,}/g, ' ').trim();
    if (line === '') {
      if (!blank) result.push('');
      blank = true;
      continue;
    }
    result.push(line);
    blank = false;
  }
  while (result.length > 0 && result[result.length - 1] === '') result.pop();
  return result.join('\n');
}
