/**
 * Read-only gate for user-supplied Cypher (Kuzu dialect) run against one dataset's graph.
 *
 * The gate refuses a query BEFORE anything runs. It does not parse Cypher; it tokenises it the way
 * the Kuzu lexer does (comments, string literals, backtick-quoted identifiers, Unicode
 * whitespace) and then refuses anything that could write, read files, reach the network, or run
 * a second statement:
 *
 *   - at most 10 000 characters, not empty;
 *   - exactly one statement: a `;` is only allowed as the last token (comments may follow);
 *   - no write, schema, transaction or extension keyword anywhere as a token (CREATE, MERGE, SET,
 *     DELETE, DETACH, REMOVE, DROP, ALTER, COPY, LOAD, INSTALL, ATTACH, USE, EXPORT, IMPORT,
 *     CHECKPOINT, BEGIN, COMMIT, ROLLBACK, FOREACH, ...), nor `PROJECT GRAPH` or `FROM '<file>'`;
 *   - CALL only as `CALL <allowed procedure>(`: show_tables, table_info, show_connection, db_version;
 *   - no function whose name starts with read_, copy or load, and no mention of httpfs;
 *   - the query starts with MATCH, OPTIONAL, WITH, UNWIND, RETURN or an allowed CALL.
 *
 * Keywords inside string literals and backtick-quoted identifiers do not count. Comments count as
 * whitespace, and the token stream is checked a second time with comments removed entirely, so a
 * keyword split in two by an empty block comment is still caught. Control and invisible format
 * characters outside strings are refused outright, so no token boundary can hide behind them.
 *
 * The gate errs on the side of refusing: a property or label that happens to be spelled like a
 * refused keyword must be backtick-quoted (`n.\`set\``).
 */

import { DomainError, namedBody } from '../errors.js';

/** Longest accepted query, in UTF-16 code units. */
export const MAX_CYPHER_LENGTH = 10_000;

/**
 * Raised by `assertReadOnlyCypher`; `reason` is a short human-readable message. A client gets the
 * reference's 400 `{"detail": "The Cypher query was refused: <reason> [CypherSearchError]"}`.
 */
export class CypherRefused extends DomainError {
  readonly status = 400;
  readonly reason: string;

  constructor(reason: string) {
    super(reason);
    this.name = 'CypherRefused';
    this.reason = reason;
  }

  override toBody(): unknown {
    return namedBody('CypherSearchError', `The Cypher query was refused: ${this.reason}`);
  }
}

export type CypherCheck = { ok: true; query: string } | { ok: false; reason: string };

/** Keywords refused wherever they appear as a token. */
const FORBIDDEN_KEYWORDS: ReadonlySet<string> = new Set([
  'CREATE',
  'MERGE',
  'SET',
  'DELETE',
  'DETACH',
  'REMOVE',
  'DROP',
  'ALTER',
  'COPY',
  'LOAD',
  'INSTALL',
  'UNINSTALL',
  'ATTACH',
  'USE',
  'EXPORT',
  'IMPORT',
  'CHECKPOINT',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'FOREACH',
]);

/**
 * Procedures `CALL` may invoke: an allowlist of those that only describe the graph (its tables,
 * their columns and connections) and the engine's version. Every other procedure of Kuzu 0.11 is
 * refused, read-only or not: `current_setting` reveals the server's settings (its home
 * directory), `show_warnings`, `show_attached_databases`, `show_loaded_extensions`,
 * `storage_info`, `file_info`, `bm_info` and the like describe the server rather than the graph,
 * and the graph algorithms and index procedures are not needed to read a dataset.
 */
const READ_ONLY_PROCEDURES: ReadonlySet<string> = new Set(['show_tables', 'table_info', 'show_connection', 'db_version']);

const START_KEYWORDS: ReadonlySet<string> = new Set(['MATCH', 'OPTIONAL', 'WITH', 'UNWIND', 'RETURN', 'CALL']);

/** Function-name prefixes that give file access. */
const FORBIDDEN_FUNCTION_PREFIXES = ['read_', 'copy', 'load'];

const REASON_EMPTY = 'Cypher query is empty';
const REASON_TOO_LONG = `Cypher query is too long (at most ${MAX_CYPHER_LENGTH} characters)`;
const REASON_SEVERAL = 'Cypher query must be a single statement (several statements are not allowed)';
const REASON_START = 'Cypher query must start with MATCH, OPTIONAL MATCH, WITH, UNWIND, RETURN or CALL';
const REASON_CALL = `Cypher CALL is only allowed for the read-only procedures ${[...READ_ONLY_PROCEDURES].join(', ')}`;
const REASON_FILE_READ = "Cypher file reads (FROM '...') are not allowed";
const REASON_CONTROL = 'Cypher query contains a control or invisible character outside a string';

function clauseRefused(keyword: string): string {
  return `Cypher clause ${keyword} is not allowed (queries are read-only)`;
}

function functionRefused(name: string): string {
  const shown = name.length > 64 ? `${name.slice(0, 64)}...` : name;
  return `Cypher function ${shown} is not allowed (no file or network access)`;
}

// ---------------------------------------------------------------------------------------------
// Lexer

type TokenKind = 'word' | 'number' | 'string' | 'ident' | 'punct';

interface Token {
  kind: TokenKind;
  /** Source text; for 'ident' the name without backticks, for 'string' the raw literal. */
  text: string;
  start: number;
  /** Index just past the token's source text. */
  end: number;
  /** True when only comments (at least one, and no whitespace) separate it from the previous token. */
  joined: boolean;
}

/** Whitespace as the Kuzu lexer defines it. */
const WHITESPACE: ReadonlySet<number> = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x1c, 0x1d, 0x1e, 0x1f, 0xa0, 0x1680, 0x180e, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
  0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

const WORD_START = /^[\p{L}\p{Nl}\p{Pc}]$/u;
const WORD_PART = /^[\p{L}\p{Nl}\p{Nd}\p{Mn}\p{Mc}\p{Pc}]$/u;
const DIGIT = /^\p{Nd}$/u;
const INVISIBLE = /^[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}]$/u;

type LexResult = { tokens: Token[] } | { error: string };

function charAt(text: string, index: number): string {
  return String.fromCodePoint(text.codePointAt(index)!);
}

function lex(query: string): LexResult {
  const tokens: Token[] = [];
  const n = query.length;
  let i = 0;
  let gapWhitespace = false;
  let gapComment = false;

  const push = (kind: TokenKind, text: string, start: number, end: number): void => {
    tokens.push({ kind, text, start, end, joined: gapComment && !gapWhitespace && tokens.length > 0 });
    gapWhitespace = false;
    gapComment = false;
  };

  while (i < n) {
    const code = query.codePointAt(i)!;
    const ch = charAt(query, i);

    if (WHITESPACE.has(code)) {
      gapWhitespace = true;
      i += ch.length;
      continue;
    }

    // Comments.
    if (ch === '/' && query[i + 1] === '/') {
      i += 2;
      while (i < n && query[i] !== '\n' && query[i] !== '\r') i++;
      gapComment = true;
      continue;
    }
    if (ch === '/' && query[i + 1] === '*') {
      const end = query.indexOf('*/', i + 2);
      if (end < 0) return { error: 'Cypher query has an unterminated comment' };
      i = end + 2;
      gapComment = true;
      continue;
    }

    // String literals with backslash escapes.
    if (ch === "'" || ch === '"') {
      const start = i;
      i++;
      let closed = false;
      while (i < n) {
        const c = query[i];
        if (c === '\\') {
          i += 2;
          continue;
        }
        i++;
        if (c === ch) {
          closed = true;
          break;
        }
      }
      if (!closed) return { error: 'Cypher query has an unterminated string literal' };
      push('string', query.slice(start, i), start, i);
      continue;
    }

    // Backtick-quoted identifiers; a doubled backtick stands for one.
    if (ch === '`') {
      const start = i;
      let name = '';
      i++;
      let closed = false;
      while (i < n) {
        if (query[i] === '`') {
          if (query[i + 1] === '`') {
            name += '`';
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        name += query.charAt(i);
        i++;
      }
      if (!closed) return { error: 'Cypher query has an unterminated quoted identifier' };
      push('ident', name, start, i);
      continue;
    }

    if (INVISIBLE.test(ch)) return { error: REASON_CONTROL };

    // Words (keywords and identifiers).
    if (WORD_START.test(ch)) {
      const start = i;
      i += ch.length;
      while (i < n) {
        const next = charAt(query, i);
        if (!WORD_PART.test(next)) break;
        i += next.length;
      }
      push('word', query.slice(start, i), start, i);
      continue;
    }

    // Numbers: a run of digits only, so `1SET` yields `1` and `SET`, as the Kuzu lexer sees it.
    if (DIGIT.test(ch)) {
      const start = i;
      i += ch.length;
      while (i < n) {
        const next = charAt(query, i);
        if (!DIGIT.test(next)) break;
        i += next.length;
      }
      push('number', query.slice(start, i), start, i);
      continue;
    }

    push('punct', ch, i, i + ch.length);
    i += ch.length;
  }

  return { tokens };
}

/** The same tokens with comments removed entirely: words separated only by a comment merge. */
function joinAcrossComments(tokens: Token[]): Token[] {
  const out: Token[] = [];
  for (const token of tokens) {
    const prev = out[out.length - 1];
    if (prev && prev.kind === 'word' && token.joined && (token.kind === 'word' || token.kind === 'number')) {
      out[out.length - 1] = { ...prev, text: prev.text + token.text, end: token.end };
    } else {
      out.push(token);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checks

function canonical(word: string): string {
  return word.normalize('NFKC').toUpperCase();
}

/**
 * The spellings under which a word is compared with keywords: the whole word, and each run of
 * ASCII letters, digits and underscores inside it (so a keyword glued to a character some lexer
 * might not count as part of an identifier is still seen).
 */
function spellings(word: string): string[] {
  const whole = canonical(word);
  const runs = whole.match(/[A-Z0-9_]+/g) ?? [];
  return [whole, ...runs];
}

function isFunctionCall(tokens: Token[], index: number): boolean {
  const next = tokens[index + 1];
  return next !== undefined && next.kind === 'punct' && next.text === '(';
}

function forbiddenFunction(name: string): boolean {
  const lower = name.normalize('NFKC').toLowerCase();
  return FORBIDDEN_FUNCTION_PREFIXES.some((prefix) => lower.startsWith(prefix)) || lower.includes('httpfs');
}

function inspect(tokens: Token[]): string | undefined {
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;

    if (token.kind === 'ident') {
      if (isFunctionCall(tokens, i) && forbiddenFunction(token.text)) return functionRefused(token.text);
      continue;
    }
    if (token.kind !== 'word') continue;

    const whole = canonical(token.text);
    for (const spelling of spellings(token.text)) {
      if (FORBIDDEN_KEYWORDS.has(spelling)) return clauseRefused(spelling);
      if (spelling === 'CALL' && whole !== 'CALL') return REASON_CALL;
    }
    if (whole.includes('HTTPFS')) return functionRefused(token.text);

    const next = tokens[i + 1];
    if (whole === 'CALL') {
      const after = tokens[i + 2];
      const allowed =
        next !== undefined &&
        next.kind === 'word' &&
        READ_ONLY_PROCEDURES.has(next.text.normalize('NFKC').toLowerCase()) &&
        after !== undefined &&
        after.kind === 'punct' &&
        after.text === '(';
      if (!allowed) return REASON_CALL;
    }
    if (whole === 'PROJECT' && next?.kind === 'word' && canonical(next.text) === 'GRAPH') {
      return clauseRefused('PROJECT GRAPH');
    }
    if (whole === 'FROM' && next?.kind === 'string') return REASON_FILE_READ;

    if (isFunctionCall(tokens, i) && forbiddenFunction(token.text)) return functionRefused(token.text);
  }
  return undefined;
}

/**
 * Checks a user-supplied Cypher query. Never throws: returns the query to run (trimmed, without
 * a trailing `;` or trailing comments, so text can safely be appended) or the reason it is refused.
 */
export function checkReadOnlyCypher(query: string): CypherCheck {
  if (typeof query !== 'string') return { ok: false, reason: 'Cypher query must be a string' };
  if (query.length > MAX_CYPHER_LENGTH) return { ok: false, reason: REASON_TOO_LONG };

  const lexed = lex(query);
  if ('error' in lexed) return { ok: false, reason: lexed.error };
  const tokens = lexed.tokens;
  if (tokens.length === 0) return { ok: false, reason: REASON_EMPTY };

  // One statement: a `;` may only be the last token.
  let body = tokens;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'punct' && token.text === ';') {
      if (i !== tokens.length - 1) return { ok: false, reason: REASON_SEVERAL };
      body = tokens.slice(0, -1);
    }
  }
  if (body.length === 0) return { ok: false, reason: REASON_EMPTY };

  const reason = inspect(body) ?? inspect(joinAcrossComments(body));
  if (reason !== undefined) return { ok: false, reason };

  const first = body[0]!;
  if (first.kind !== 'word' || !START_KEYWORDS.has(canonical(first.text))) return { ok: false, reason: REASON_START };

  // The statement itself: leading comments kept, the trailing `;` and trailing comments dropped.
  return { ok: true, query: query.slice(0, body[body.length - 1]!.end).trim() };
}

/** Returns the query to run, or throws CypherRefused. */
export function assertReadOnlyCypher(query: string): string {
  const result = checkReadOnlyCypher(query);
  if (!result.ok) throw new CypherRefused(result.reason);
  return result.query;
}
