/**
 * Local file paths in ingestion input (D17). A string handed in for ingestion may be text, an
 * http(s) URL, a `file://` URI or a bare path to a file on the server. Reading server files is
 * gated twice: ACCEPT_LOCAL_FILE_PATH must allow it, and the file's real path (symlinks resolved)
 * must lie inside one of the allowed roots.
 *
 * A bare path that exists but lies outside every allowed root is treated as plain text, as the
 * reference does, so a sentence such as "/remember to call Bob" never turns into a file read and
 * the answer does not reveal which server files exist.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Raised when an input names a local file that may not be read; rendered as HTTP 415. */
export class IngestionError extends Error {
  readonly status = 415;

  constructor(message: string) {
    super(message);
    this.name = 'IngestionError';
  }
}

export interface LocalFilePolicy {
  acceptLocalFilePath: boolean;
  allowedRoots: string[];
}

export type ClassifiedInput =
  | { kind: 'text'; text: string }
  | { kind: 'url'; url: string }
  | { kind: 'file'; path: string /* realpath */ };

/** Strings longer than this are never taken for paths (and never reach the file system). */
const MAX_PATH_CANDIDATE_LENGTH = 4096;

const NOT_ACCEPTED = 'Local files are not accepted.';
const NOT_A_FILE = 'Local file does not exist or is not a file.';
const OUTSIDE_ROOTS = 'Local file path is outside allowed roots.';

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
      throw new IngestionError(NOT_A_FILE);
    }
    const real = await regularFileRealPath(target);
    if (real === undefined) throw new IngestionError(NOT_A_FILE);
    if (!(await insideAllowedRoots(real, policy.allowedRoots))) throw new IngestionError(OUTSIDE_ROOTS);
    return { kind: 'file', path: real };
  }

  const pathLike =
    trimmed !== '' &&
    trimmed.length <= MAX_PATH_CANDIDATE_LENGTH &&
    !trimmed.includes('\0') &&
    !/[\r\n]/.test(trimmed);
  if (pathLike) {
    const real = await regularFileRealPath(trimmed);
    if (real !== undefined && (await insideAllowedRoots(real, policy.allowedRoots))) {
      if (!policy.acceptLocalFilePath) throw new IngestionError(NOT_ACCEPTED);
      return { kind: 'file', path: real };
    }
  }

  return { kind: 'text', text: input };
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
