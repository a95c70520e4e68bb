/**
 * Splits document text into chunks of at most `maxTokens` tokens, where a token is a word (a run
 * of non-white-space characters). Paragraphs (separated by blank lines) are packed into one chunk
 * while they fit; a paragraph that is too long is split at sentence ends, and a sentence that is
 * too long at words. Each chunk is the original text from its first word to its last, so the
 * words of the chunks, in order, are exactly the words of the input. Linear time.
 */

export type CutType = 'paragraph_end' | 'sentence_end' | 'word';

export interface TextChunk {
  text: string;
  chunk_index: number;
  /** Number of tokens (words) in the chunk. */
  chunk_size: number;
  /** Where the chunk ends: at the end of a paragraph, of a sentence, or between two words. */
  cut_type: CutType;
}

/** The number of tokens (white-space separated words) of `text`. */
export function estimateTokens(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i));
    if (!space && !inWord) count++;
    inWord = !space;
  }
  return count;
}

/** The white space of JavaScript's `\s`. */
function isSpace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0x80) return false;
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/** True when the word closes a sentence: ends with . ! ? (or a CJK form), maybe then quotes/brackets. */
function endsSentence(text: string, start: number, end: number): boolean {
  let i = end - 1;
  while (i >= start) {
    const ch = text.charCodeAt(i);
    // " ' ) ] ” ’ » close a sentence after its terminator.
    if (ch === 0x22 || ch === 0x27 || ch === 0x29 || ch === 0x5d || ch === 0x201d || ch === 0x2019 || ch === 0xbb) {
      i--;
      continue;
    }
    break;
  }
  if (i < start) return false;
  const ch = text.charCodeAt(i);
  return ch === 0x2e || ch === 0x21 || ch === 0x3f || ch === 0x3002 || ch === 0xff01 || ch === 0xff1f || ch === 0x2026;
}

/** A run of words that ends at a cut point. */
interface Unit {
  start: number;
  end: number;
  tokens: number;
  cut: CutType;
}

export function chunkText(text: string, maxTokens: number): TextChunk[] {
  if (!Number.isFinite(maxTokens) || maxTokens < 1) throw new RangeError('maxTokens must be at least 1');
  const limit = Math.floor(maxTokens);
  const chunks: TextChunk[] = [];

  // The chunk being packed.
  let chunkStart = -1;
  let chunkEnd = -1;
  let chunkTokens = 0;
  let chunkCut: CutType = 'paragraph_end';
  const flush = (): void => {
    if (chunkTokens === 0) return;
    chunks.push({ text: text.slice(chunkStart, chunkEnd), chunk_index: chunks.length, chunk_size: chunkTokens, cut_type: chunkCut });
    chunkTokens = 0;
  };
  const add = (unit: Unit): void => {
    if (chunkTokens > 0 && chunkTokens + unit.tokens > limit) flush();
    if (chunkTokens === 0) chunkStart = unit.start;
    chunkEnd = unit.end;
    chunkTokens += unit.tokens;
    chunkCut = unit.cut;
  };

  // Word offsets of the current paragraph: starts[i], ends[i].
  let starts: number[] = [];
  let ends: number[] = [];
  const emitParagraph = (): void => {
    const count = starts.length;
    if (count === 0) return;
    if (count <= limit) {
      add({ start: starts[0]!, end: ends[count - 1]!, tokens: count, cut: 'paragraph_end' });
    } else {
      let sentenceFirst = 0;
      for (let w = 0; w < count; w++) {
        const last = w === count - 1;
        if (!last && !endsSentence(text, starts[w]!, ends[w]!)) continue;
        const cut: CutType = last ? 'paragraph_end' : 'sentence_end';
        const size = w - sentenceFirst + 1;
        if (size <= limit) {
          add({ start: starts[sentenceFirst]!, end: ends[w]!, tokens: size, cut });
        } else {
          for (let piece = sentenceFirst; piece <= w; piece += limit) {
            const pieceLast = Math.min(piece + limit - 1, w);
            add({ start: starts[piece]!, end: ends[pieceLast]!, tokens: pieceLast - piece + 1, cut: pieceLast === w ? cut : 'word' });
          }
        }
        sentenceFirst = w + 1;
      }
    }
    starts = [];
    ends = [];
  };

  // One pass over the text: words, and paragraph breaks (white space holding two or more newlines).
  let i = 0;
  const length = text.length;
  while (i < length) {
    let newlines = 0;
    while (i < length && isSpace(text.charCodeAt(i))) {
      if (text.charCodeAt(i) === 0x0a) newlines++;
      i++;
    }
    if (i >= length) break;
    if (newlines >= 2) emitParagraph();
    const start = i;
    while (i < length && !isSpace(text.charCodeAt(i))) i++;
    starts.push(start);
    ends.push(i);
  }
  emitParagraph();
  flush();
  return chunks;
}
