/**
 * The built-in offline mode: an embedder and a "language model" that need no API key and no
 * network. Both are deterministic, so the same document always yields the same graph and vectors.
 *
 *   - `HashingEmbedder` is a lexical embedding (the hashing trick over words and character
 *     trigrams), good enough for keyword-like similarity search.
 *   - `OfflineModel` extracts a graph with simple heuristics (runs of capitalised words, acronyms and
 *     years become entities; entities of one sentence are linked), summarises extractively and
 *     answers with the retrieved context itself.
 */
import { StructuredOutputUnavailableError, type Embedder, type ExtractedGraph, type LanguageModel } from './types.js';

// ------------------------------------------------------------------------------------------------
// Hashing

/** 32-bit FNV-1a over the UTF-16 code units of `text`, seeded. */
function fnv1a(text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The murmur3 finaliser: spreads the bits of a 32-bit hash. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const WORD = /[\p{L}\p{M}\p{N}]+/gu;

/** Lower-cased tokens made of Unicode letters, marks and digits. */
function lexicalTokens(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(WORD) ?? [];
}

/** Texts embedded between two turns of the event loop (each is a few hundred microseconds of work at most). */
const EMBED_YIELD_EVERY = 16;

/**
 * Lets the event loop run (timers, I/O, other requests) before the next piece of CPU-bound work:
 * the offline providers compute on the server's thread, and a long document is thousands of pieces.
 */
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface HashingEmbedderOptions {
  /** Vector size; 256 when omitted. */
  dimensions?: number;
}

/**
 * A deterministic lexical embedding. Every token and every character trigram of `#token#` is
 * hashed into a bucket with a hashed sign (tokens weigh 1, trigrams 0.5), term frequencies are
 * damped (1 + ln tf), and the vector is L2-normalised (the empty text gives the zero vector).
 * Equal texts give equal vectors; texts sharing words or word pieces point in similar directions.
 */
export class HashingEmbedder implements Embedder {
  readonly name = 'hashing';
  readonly dimensions: number;

  constructor(options: HashingEmbedderOptions | number = {}) {
    const dimensions = typeof options === 'number' ? options : (options.dimensions ?? 256);
    if (!Number.isInteger(dimensions) || dimensions < 1) throw new RangeError('dimensions must be a positive integer');
    this.dimensions = dimensions;
  }

  async embed(texts: readonly string[]): Promise<number[][]> {
    const vectors: number[][] = [];
    for (const text of texts) {
      // A large batch (every chunk, entity and summary of a long document) lets the event loop run between texts' work.
      if (vectors.length % EMBED_YIELD_EVERY === 0 && vectors.length > 0) await yieldToLoop();
      vectors.push(this.embedOne(text));
    }
    return vectors;
  }

  /** The vector of one text (synchronous; `embed` maps it over a batch). */
  embedOne(text: string): number[] {
    const counts = new Map<string, number>();
    const add = (feature: string): void => {
      counts.set(feature, (counts.get(feature) ?? 0) + 1);
    };
    for (const token of lexicalTokens(text)) {
      add(`w\u0000${token}`);
      const chars = Array.from(`#${token}#`);
      for (let i = 0; i + 3 <= chars.length; i++) add(`t\u0000${chars[i]}${chars[i + 1]}${chars[i + 2]}`);
    }
    const vector = new Float64Array(this.dimensions);
    for (const [feature, count] of counts) {
      const weight = (feature.charCodeAt(0) === 0x77 /* w */ ? 1 : 0.5) * (1 + Math.log(count));
      const hash = fnv1a(feature);
      const bucket = hash % this.dimensions;
      const sign = (fmix32(hash ^ 0x9e3779b9) & 1) === 0 ? 1 : -1;
      vector[bucket] = (vector[bucket] ?? 0) + sign * weight;
    }
    let norm = 0;
    for (const value of vector) norm += value * value;
    norm = Math.sqrt(norm);
    return Array.from(vector, (value) => (norm > 0 ? value / norm : 0));
  }
}

// ------------------------------------------------------------------------------------------------
// Sentences and words

/** Abbreviations after which a period does not end a sentence. */
const ABBREVIATIONS = new Set([
  'mr',
  'mrs',
  'ms',
  'dr',
  'prof',
  'sr',
  'jr',
  'st',
  'mt',
  'vs',
  'etc',
  'e.g',
  'i.e',
  'inc',
  'ltd',
  'co',
  'corp',
  'no',
  'fig',
  'approx',
]);

/**
 * Splits text into sentences: at blank lines, and after `.`, `!`, `?` (or their CJK forms) that
 * are followed by white space and a character that is not a lower-case letter. Linear time.
 */
export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  for (const paragraph of text.split(/\n[ \t\r\f\v]*\n/)) {
    const flat = paragraph.replace(/\s+/g, ' ').trim();
    if (flat === '') continue;
    let start = 0;
    for (let i = 0; i < flat.length; i++) {
      const ch = flat[i]!;
      if (ch === '。' || ch === '！' || ch === '？') {
        pushSentence(sentences, flat.slice(start, i + 1));
        start = i + 1;
        continue;
      }
      if (ch !== '.' && ch !== '!' && ch !== '?') continue;
      // Include further terminators and closing quotes/brackets.
      let end = i + 1;
      while (end < flat.length && /[.!?"'”’)\]]/.test(flat[end]!)) end++;
      if (end < flat.length && flat[end] !== ' ') {
        i = end - 1;
        continue;
      }
      const next = flat[end + 1];
      if (next !== undefined && /\p{Ll}/u.test(next)) {
        i = end - 1;
        continue;
      }
      if (ch === '.') {
        const before = /([\p{L}.]+)$/u.exec(flat.slice(Math.max(start, i - 12), i))?.[1];
        // Abbreviations (Mr., e.g.) and initials (J. R. R. Tolkien) do not end a sentence.
        if (before !== undefined && (ABBREVIATIONS.has(before.toLowerCase()) || /^\p{Lu}$/u.test(before))) {
          i = end - 1;
          continue;
        }
      }
      pushSentence(sentences, flat.slice(start, end));
      start = end;
      i = end - 1;
    }
    pushSentence(sentences, flat.slice(start));
  }
  return sentences;
}

function pushSentence(sentences: string[], raw: string): void {
  const sentence = raw.trim();
  if (sentence !== '') sentences.push(sentence);
}

interface WordToken {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

const WORD_TOKEN = /[\p{L}\p{M}\p{N}]+(?:['’-][\p{L}\p{M}\p{N}]+)*/gu;

function wordTokens(sentence: string): WordToken[] {
  const tokens: WordToken[] = [];
  for (const match of sentence.matchAll(WORD_TOKEN)) {
    tokens.push({ text: match[0], start: match.index, end: match.index + match[0].length });
  }
  return tokens;
}

function trimTo(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** Lower-case snake_case. */
function snakeCase(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}]+/gu, '_')
    .replace(/^_+|_+$/g, '');
}

// ------------------------------------------------------------------------------------------------
// Entity heuristics

/** Capitalised words that do not start an entity at the beginning of a sentence. */
const SENTENCE_INITIAL_STOP_WORDS = new Set(
  (
    'the a an in on at it its this that these those he she they we i you his her their our my your there here ' +
    'when where while after before then however but and or so if as for from by with also although because since ' +
    'during today yesterday tomorrow some many most all each every both no not yes what which who whom whose why how ' +
    'of to is was are were be been has have had do does did can could will would should may might must once thus ' +
    'meanwhile later finally first next according'
  ).split(' '),
);

/** Lower-case words that may join two capitalised words into one name (University of Oxford). */
const NAME_CONNECTORS = new Set(['of', 'de', 'da', 'di', 'del', 'der', 'den', 'van', 'von', 'du', 'la', 'le']);

const ORGANISATION_CUES = new Set(
  (
    'inc corp corporation ltd llc plc gmbh ag sa company co university college institute foundation association ' +
    'agency bank group society ministry department council committee organisation organization laboratory laboratories ' +
    'labs school academy party union federation museum library hospital'
  ).split(' '),
);

const PLACE_CUES = new Set(
  'city river mountain mount lake street road avenue island islands county state province republic kingdom ocean sea valley bay desert'.split(' '),
);

const PERSON_TITLES = new Set(['mr', 'mrs', 'ms', 'miss', 'dr', 'prof', 'professor', 'sir', 'dame', 'lord', 'lady', 'king', 'queen', 'president']);

/** Lower-case words before a name that suggest a place. */
const PLACE_PREPOSITIONS = new Set(['in', 'at', 'near', 'to']);

/** Single linking words that carry no meaning as a relationship. */
const EMPTY_RELATIONS = new Set(['and', 'or', 'nor', 'but', 'as_well_as', 'and_also', 'then']);

const ARTICLES = new Set(['the', 'a', 'an']);

const MAX_NODES = 30;
const MAX_EDGES = 60;
const MAX_DESCRIPTION = 200;
const MAX_RELATION_WORDS = 3;

function isCapitalised(word: string): boolean {
  return /^[\p{Lu}\p{Lt}]/u.test(word);
}

function isYear(word: string): boolean {
  if (!/^\d{4}$/.test(word)) return false;
  const year = Number(word);
  return year >= 1000 && year <= 2199;
}

interface Mention {
  readonly name: string;
  readonly type: string;
  /** Offsets in the sentence. */
  readonly start: number;
  readonly end: number;
}

/** The entity mentions of one sentence, in order. */
function findMentions(sentence: string): Mention[] {
  const tokens = wordTokens(sentence);
  const mentions: Mention[] = [];
  let i = 0;
  while (i < tokens.length) {
    const token = tokens[i]!;
    if (isYear(token.text)) {
      mentions.push({ name: token.text, type: 'date', start: token.start, end: token.end });
      i++;
      continue;
    }
    if (!isCapitalised(token.text) || token.text === 'I') {
      i++;
      continue;
    }
    // A run of capitalised words separated by spaces only, possibly joined by connectors.
    let last = i;
    let j = i + 1;
    while (j < tokens.length) {
      const gap = sentence.slice(tokens[j - 1]!.end, tokens[j]!.start);
      if (!/^ +$/.test(gap)) break;
      const word = tokens[j]!.text;
      if (isCapitalised(word) && word !== 'I') {
        last = j;
        j++;
        continue;
      }
      if (NAME_CONNECTORS.has(word) && j + 1 < tokens.length && isCapitalised(tokens[j + 1]!.text)) {
        const nextGap = sentence.slice(tokens[j]!.end, tokens[j + 1]!.start);
        if (/^ +$/.test(nextGap)) {
          j++;
          continue;
        }
      }
      break;
    }
    let first = i;
    // Sentence-initial function words ("The", "In", "However") are not part of a name.
    if (first === 0) {
      while (first <= last && SENTENCE_INITIAL_STOP_WORDS.has(tokens[first]!.text.toLowerCase())) first++;
    }
    let type = 'entity';
    // A leading title ("Dr Smith") marks a person and is kept out of the name.
    while (first < last && PERSON_TITLES.has(tokens[first]!.text.toLowerCase())) {
      type = 'person';
      first++;
    }
    while (first <= last && NAME_CONNECTORS.has(tokens[first]!.text)) first++;
    if (first <= last) {
      const words = tokens.slice(first, last + 1).map((t) => t.text);
      const lastWord = words[words.length - 1]!.toLowerCase();
      const firstWord = words[0]!.toLowerCase();
      if (type !== 'person') {
        if (ORGANISATION_CUES.has(lastWord) || ORGANISATION_CUES.has(firstWord)) type = 'organisation';
        else if (PLACE_CUES.has(lastWord) || PLACE_CUES.has(firstWord)) type = 'place';
        else if (first > 0 && PLACE_PREPOSITIONS.has(tokens[first - 1]!.text) && /^ +$/.test(sentence.slice(tokens[first - 1]!.end, tokens[first]!.start)))
          type = 'place';
      }
      const start = tokens[first]!.start;
      const end = tokens[last]!.end;
      // "Ada Lovelace's notes" names Ada Lovelace.
      const name = sentence.slice(start, end).replace(/['’]s$/u, '');
      mentions.push({ name, type, start, end });
    }
    i = last + 1;
  }
  return mentions;
}

/**
 * The relationship named by the text between two mentions of a (white-space collapsed) sentence:
 * a single run of one to three lower-case words ("worked with" → worked_with), else mentioned_with.
 */
function relationBetween(gap: string): string {
  const trimmed = gap.trim();
  if (trimmed === '' || gap !== ` ${trimmed} `) return 'mentioned_with';
  const words = trimmed.split(' ');
  if (words.length > MAX_RELATION_WORDS) return 'mentioned_with';
  if (!words.every((word) => /^\p{Ll}[\p{Ll}\p{M}\p{N}'’-]*$/u.test(word))) return 'mentioned_with';
  // "joined the" → joined
  while (words.length > 1 && ARTICLES.has(words[words.length - 1]!)) words.pop();
  const name = snakeCase(words.join(' '));
  if (name === '' || EMPTY_RELATIONS.has(name)) return 'mentioned_with';
  return name;
}

// ------------------------------------------------------------------------------------------------

/** The offline "language model": heuristic, deterministic, no network. */
export class OfflineModel implements LanguageModel {
  readonly name = 'offline';

  async extractGraph(text: string, _customPrompt?: string): Promise<ExtractedGraph> {
    // One chunk's work at a time on the event loop: a document's chunks are extracted in turns.
    await yieldToLoop();
    const nodes = new Map<string, { id: string; name: string; type: string; description: string }>();
    const edges: Array<{ source_node_id: string; target_node_id: string; relationship_name: string; description: string }> = [];
    const seenEdges = new Set<string>();
    for (const sentence of splitSentences(text)) {
      const description = trimTo(sentence, MAX_DESCRIPTION);
      const mentions = findMentions(sentence).filter((mention) => {
        if (nodes.has(mention.name)) return true;
        if (nodes.size >= MAX_NODES) return false;
        nodes.set(mention.name, { id: mention.name, name: mention.name, type: mention.type, description });
        return true;
      });
      for (let a = 0; a < mentions.length; a++) {
        for (let b = a + 1; b < mentions.length; b++) {
          if (edges.length >= MAX_EDGES) break;
          const source = mentions[a]!;
          const target = mentions[b]!;
          if (source.name === target.name) continue;
          const relationship = relationBetween(sentence.slice(source.end, target.start));
          const key = `${source.name}\u0000${target.name}\u0000${relationship}`;
          if (seenEdges.has(key)) continue;
          seenEdges.add(key);
          edges.push({ source_node_id: source.name, target_node_id: target.name, relationship_name: relationship, description });
        }
      }
    }
    return { nodes: [...nodes.values()], edges };
  }

  async summarize(text: string): Promise<string> {
    await yieldToLoop();
    const limit = 300;
    let summary = '';
    for (const sentence of splitSentences(text)) {
      if (summary === '') {
        summary = trimTo(sentence, limit);
        continue;
      }
      if (summary.length + 1 + sentence.length > limit) break;
      summary = `${summary} ${sentence}`;
    }
    return summary;
  }

  /** Without a language model the answer is the retrieved context itself (the documented offline mode). */
  async answer(_systemPrompt: string, _question: string, context: string): Promise<string> {
    return context;
  }

  async structured<T>(_systemPrompt: string, _userPrompt: string, _schemaName: string, _schema: Record<string, unknown>): Promise<T> {
    throw new StructuredOutputUnavailableError();
  }
}
