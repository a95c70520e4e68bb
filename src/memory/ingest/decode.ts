/** Bytes to text: UTF-8, or UTF-16 with a byte order mark. */

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

/** The text of `bytes` if they are text (valid UTF-8, or UTF-16 with a BOM, without NUL), else undefined. */
export function decodeIfText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) text = new TextDecoder('utf-16le', { fatal: true }).decode(bytes);
    else if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) text = new TextDecoder('utf-16be', { fatal: true }).decode(bytes);
    else text = strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
  return text.includes('\u0000') ? undefined : text;
}

/** Text of a file declared as text: UTF-8 (invalid sequences replaced) or UTF-16 with a BOM. */
export function decodeText(bytes: Uint8Array): string {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    const decoded = decodeIfText(bytes);
    if (decoded !== undefined) return decoded;
  }
  return lenientUtf8.decode(bytes);
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
