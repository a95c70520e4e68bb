/**
 * Local file paths in ingestion input (D17). A string handed in for ingestion may be text, an
 * http(s) URL, a `file://` URI or a bare path to a file on the server. Reading server files is
 * gated twice: ACCEPT_LOCAL_FILE_PATH must allow it, and the file's real path (symlinks resolved)
 * must lie inside one of the allowed roots.
 *
 * A bare path that exists but lies outside every allowed root is treated as plain text, as the
 * reference does, so a sentence such as "/remember to call Bob" never turns into a file read and
 * the answer does not reveal which server files exist. A `file://` URI that cannot be read gets one
 * answer whatever the reason (missing, not a file, outside the roots, server state), for the same
 * reason.
 *
 * Whatever the allowed roots are, the server's own state is never read through this gate: the
 * system root (databases, generated secrets), the data root (every user's stored uploads, which the
 * engine reads itself, never through here), the SQLite file and its -wal/-shm/-journal companions,
 * the `.env` the configuration reads, and any file named `.env` or `.env.*`. Only regular files are
 * read (a FIFO or a device is never opened for reading in a way that could block), and at most
 * `maxBytes` of them.
 */
import { constants } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DomainError } from '../errors.js';

/** Raised when an input names a local file that may not be read; answered 415 `[IngestionError]`. */
export class IngestionError extends DomainError {
  readonly status = 415;

  constructor(message: string) {
    super(message);
    this.name = 'IngestionError';
  }
}

export interface LocalFilePolicy {
  acceptLocalFilePath: boolean;
  allowedRoots: string[];
  /** Server state that is never read, whatever the allowed roots (see `serverStatePaths`). */
  protectedPaths?: ProtectedPaths;
}

/** Paths the gate refuses even inside an allowed root. */
export interface ProtectedPaths {
  /** Directories: the directory and everything below it. */
  readonly dirs: readonly string[];
  /** Single files (they need not exist yet, e.g. a -wal file). */
  readonly files: readonly string[];
}

/** What the gate needs to know about the server's own state (a subset of `Config`). */
export interface ServerStateLocations {
  readonly cwd: string;
  readonly systemRoot: string;
  readonly dataRoot: string;
  readonly db: { readonly provider: 'sqlite'; readonly path: string } | { readonly provider: 'postgres' };
}

/**
 * The server's own state: the system root, the data root, the SQLite database file with its
 * -wal/-shm/-journal files (wherever DB_PATH puts them) and the `.env` the configuration reads.
 */
export function serverStatePaths(config: ServerStateLocations): ProtectedPaths {
  const files = [path.resolve(config.cwd, '.env')];
  if (config.db.provider === 'sqlite') {
    const db = path.resolve(config.db.path);
    files.push(db, `${db}-wal`, `${db}-shm`, `${db}-journal`);
  }
  return { dirs: [path.resolve(config.systemRoot), path.resolve(config.dataRoot)], files };
}

export type ClassifiedInput = { kind: 'text'; text: string } | { kind: 'url'; url: string } | { kind: 'file'; path: string /* realpath */ };

/** Strings longer than this are never taken for paths (and never reach the file system). */
const MAX_PATH_CANDIDATE_LENGTH = 4096;

const NOT_ACCEPTED = 'Local files are not accepted.';
/**
 * One answer for a file that does not exist, is not a regular file, lies outside the allowed roots
 * or is server state: a client never learns which, so the gate is no oracle of the server's files.
 */
const UNREADABLE = 'Local file path does not name a readable file inside the allowed roots.';
const tooLarge = (maxBytes: number) => `Local file exceeds ${maxBytes} bytes.`;

/** Whether `candidate` (a real path) is `root` (a real path) or lies below it. */
function isInside(candidate: string, root: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return candidate.startsWith(prefix);
}

/** Whether a real path lies inside one of the roots, each resolved through its own symlinks. */
async function insideAllowedRoots(realPath: string, roots: string[]): Promise<boolean> {
  for (const root of roots) {
    let realRoot: string;
    try {
      realRoot = await realpath(path.resolve(root));
    } catch {
      continue; // a root that does not exist contains nothing
    }
    if (isInside(realPath, realRoot)) return true;
  }
  return false;
}

/**
 * The real path of `p`; for a file that does not exist yet, its directory's real path joined with
 * its name; failing that, the absolute path.
 */
async function realOrResolved(p: string): Promise<string> {
  const absolute = path.resolve(p);
  try {
    return await realpath(absolute);
  } catch {
    try {
      return path.join(await realpath(path.dirname(absolute)), path.basename(absolute));
    } catch {
      return absolute;
    }
  }
}

/** The real path of `p`'s directory joined with its name (whether or not `p` exists), else its absolute path. */
async function parentRealPath(p: string): Promise<string> {
  const absolute = path.resolve(p);
  try {
    return path.join(await realpath(path.dirname(absolute)), path.basename(absolute));
  } catch {
    return absolute;
  }
}

/** `.env`, `.env.local`, `.env.production`… (any case). */
function isDotenvName(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === '.env' || lower.startsWith('.env.');
}

/** Whether a real path is server state (or named like a dotenv file). `given` is the path as written. */
async function isProtected(realPath: string, given: string | undefined, paths: ProtectedPaths | undefined): Promise<boolean> {
  if (isDotenvName(path.basename(realPath))) return true;
  if (given !== undefined && isDotenvName(path.basename(given))) return true;
  if (paths === undefined) return false;
  for (const dir of paths.dirs) {
    for (const form of new Set([path.resolve(dir), await realOrResolved(dir)])) {
      if (isInside(realPath, form)) return true;
    }
  }
  for (const file of paths.files) {
    if (realPath === path.resolve(file) || realPath === (await realOrResolved(file))) return true;
  }
  return false;
}

/** Whether an open file is one of the protected files under another name (a hard link). */
async function sameInodeAsProtectedFile(info: { dev: number; ino: number }, paths: ProtectedPaths | undefined): Promise<boolean> {
  for (const file of paths?.files ?? []) {
    try {
      const other = await stat(file);
      if (other.dev === info.dev && other.ino === info.ino) return true;
    } catch {
      // a protected file that does not exist cannot be linked to
    }
  }
  return false;
}

/** The real path of `candidate` when it is an existing regular file, else undefined. */
async function regularFileRealPath(candidate: string): Promise<string | undefined> {
  try {
    const info = await stat(candidate);
    if (!info.isFile()) return undefined;
    return await realpath(candidate);
  } catch {
    return undefined;
  }
}

/**
 * Decides what an ingestion string is:
 *   - `http://` / `https://` → url;
 *   - `file://` URI → file, or IngestionError when local files are refused, the target is not a
 *     regular file, or its real path is outside the allowed roots;
 *   - a path (absolute, or relative to the working directory) to an existing regular file inside
 *     an allowed root → file, or IngestionError when local files are refused; outside the roots → text;
 *   - a path (either form) inside an allowed root that names server state → IngestionError, whether
 *     or not the file exists; a file:// URI gets one answer for every refusal but NOT_ACCEPTED;
 *   - anything else → text. Strings with NUL, line breaks, or over 4096 characters are never stat'ed.
 */
export async function classifyInput(input: string, policy: LocalFilePolicy): Promise<ClassifiedInput> {
  const trimmed = input.trim();

  if (/^https?:\/\//i.test(trimmed)) return { kind: 'url', url: trimmed };

  if (/^file:\/\//i.test(trimmed)) {
    if (!policy.acceptLocalFilePath) throw new IngestionError(NOT_ACCEPTED);
    let target: string;
    try {
      target = fileURLToPath(trimmed);
    } catch {
      throw new IngestionError(UNREADABLE);
    }
    const real = await regularFileRealPath(target);
    if (real === undefined) throw new IngestionError(UNREADABLE);
    if (!(await insideAllowedRoots(real, policy.allowedRoots))) throw new IngestionError(UNREADABLE);
    if (await isProtected(real, target, policy.protectedPaths)) throw new IngestionError(UNREADABLE);
    return { kind: 'file', path: real };
  }

  const pathLike = trimmed !== '' && trimmed.length <= MAX_PATH_CANDIDATE_LENGTH && !trimmed.includes('\0') && !/[\r\n]/.test(trimmed);
  if (pathLike) {
    // Server state inside the roots is refused by its name, before the file is looked at, so the
    // answer is the same whether or not such a file exists.
    const named = await parentRealPath(trimmed);
    if (
      (await insideAllowedRoots(named, policy.allowedRoots)) &&
      ((await isProtected(named, trimmed, policy.protectedPaths)) || (await isProtected(path.resolve(trimmed), trimmed, policy.protectedPaths)))
    ) {
      throw new IngestionError(policy.acceptLocalFilePath ? UNREADABLE : NOT_ACCEPTED);
    }
    const real = await regularFileRealPath(trimmed);
    if (real !== undefined && (await insideAllowedRoots(real, policy.allowedRoots))) {
      if (!policy.acceptLocalFilePath) throw new IngestionError(NOT_ACCEPTED);
      if (await isProtected(real, trimmed, policy.protectedPaths)) throw new IngestionError(UNREADABLE);
      return { kind: 'file', path: real };
    }
  }

  return { kind: 'text', text: input };
}

/** The path an open descriptor really names (Linux: /proc/self/fd), or undefined where unknown. */
async function openedPath(handle: FileHandle): Promise<string | undefined> {
  try {
    const target = await readlink(`/proc/self/fd/${handle.fd}`);
    return path.isAbsolute(target) ? target : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a file `classifyInput` accepted, checking again on the open descriptor, so a file swapped
 * after the check (for a symlink, a FIFO, a device or a file elsewhere) is not read: opened
 * without following a final symlink and without blocking, it must be a regular file, still inside
 * an allowed root, not server state, and at most `maxBytes` long.
 */
export async function readLocalFile(realPath: string, policy: LocalFilePolicy, maxBytes: number): Promise<Buffer> {
  if (!policy.acceptLocalFilePath) throw new IngestionError(NOT_ACCEPTED);
  let handle: FileHandle;
  try {
    handle = await open(realPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    throw new IngestionError(UNREADABLE);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new IngestionError(UNREADABLE);
    const where = (await openedPath(handle)) ?? realPath;
    if (!(await insideAllowedRoots(where, policy.allowedRoots))) throw new IngestionError(UNREADABLE);
    if (await isProtected(where, realPath, policy.protectedPaths)) throw new IngestionError(UNREADABLE);
    if (await sameInodeAsProtectedFile(info, policy.protectedPaths)) throw new IngestionError(UNREADABLE);
    if (info.size > maxBytes) throw new IngestionError(tooLarge(maxBytes));
    // The file may grow while it is read: read to its end, never keeping more than maxBytes.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, maxBytes + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw new IngestionError(tooLarge(maxBytes));
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

/**
 * Parses a list of allowed roots (separated by the platform's path delimiter, ':' on Linux) into
 * absolute paths; an unset or empty value yields `defaults`.
 */
export function parseAllowedRoots(value: string | undefined, defaults: string[]): string[] {
  const roots = (value ?? '')
    .split(path.delimiter)
    .map((r) => r.trim())
    .filter((r) => r !== '')
    .map((r) => path.resolve(r));
  return roots.length > 0 ? roots : [...defaults];
}
