import { pathToFileURL } from 'node:url';

const PLACEHOLDER = '<server path>';

/**
 * An absolute file path or file:// URL of two segments or more, not part of a word or of another
 * URL (`text/plain` and `https://host/v1/x` are left alone).
 */
const ABSOLUTE_PATH = /(?:file:\/\/(?=\/)|(?<![\w.:/~>-]))\/(?:[^\s'"`/<>]+\/)+[^\s'"`<>,;)]*/g;

/**
 * A message that may reach a client without the server's paths: the given roots (the data and
 * system roots, the working directory) and any other absolute path (a stored file, a store's
 * database file, a temporary file) become `<server path>`. Error texts of the file system, the
 * stores and the parsers quote such paths.
 */
export function withoutServerPaths(text: string, roots: readonly string[] = []): string {
  let out = text.replace(ABSOLUTE_PATH, PLACEHOLDER);
  // A root with a space in it escapes the pattern: named roots are replaced wherever they remain.
  for (const root of [...roots].filter((r) => r.length > 1).sort((a, b) => b.length - a.length)) {
    for (const form of [pathToFileURL(root).href, root]) out = out.split(form).join(PLACEHOLDER);
  }
  return out;
}
