/**
 * Header values that carry user text. A header value may hold only visible Latin-1 and tabs; Node
 * throws on anything else when the answer is written, so user text is never put in a header as is.
 */

/** RFC 5987 `attr-char`: what may stand unencoded in an extended parameter value. */
const ATTR_CHAR = /^[A-Za-z0-9!#$&+\-.^_`|~]$/;

/** `UTF-8''<percent-encoded bytes>` (RFC 5987): any string, lone surrogates as U+FFFD. */
function extendedValue(value: string): string {
  let out = "UTF-8''";
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && ATTR_CHAR.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The ASCII fallback for clients that do not read `filename*`: printable ASCII only, with quotes,
 * backslashes and percent signs (which some clients decode) replaced, so it can never end the
 * quoted string or the header.
 */
function asciiFallback(value: string): string {
  const ascii = value.replace(/[^\x20-\x7e]|["\\%]/gu, '_').trim();
  return ascii === '' || /^[._]*$/.test(ascii) ? 'download' : ascii;
}

/**
 * `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<name>` (RFC 6266 §4.3): clients that
 * read `filename*` get the name exactly, others a safe ASCII approximation of it.
 */
export function attachmentDisposition(filename: string): string {
  return `attachment; filename="${asciiFallback(filename)}"; filename*=${extendedValue(filename)}`;
}
