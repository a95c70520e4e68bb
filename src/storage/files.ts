import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The stored originals of ingested items, under the data root: written atomically (a temporary
 * file, then a rename), owner-only modes, and read or removed only when they lie inside the root,
 * so a stored location can never make the server read or delete a path of a user's choosing.
 */
export class FileStore {
  private readonly root: string;

  constructor(dataRoot: string) {
    this.root = resolve(dataRoot);
  }

  /** Writes `bytes` at `relative` under `dir` (a folder inside the data root); returns the file's file:// URL. */
  async write(dir: string, relative: string, bytes: Buffer): Promise<string> {
    const path = resolve(dir, relative);
    if (!path.startsWith(resolve(dir) + sep) || !path.startsWith(this.root + sep)) throw new Error('refusing to store outside the data root');
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, bytes, { mode: 0o600 });
    await rename(tmp, path);
    return pathToFileURL(path).href;
  }

  /** The bytes of a stored file (only the server's own copies, never a user path). */
  async read(location: string): Promise<Buffer> {
    const path = fileURLToPath(location);
    if (!resolve(path).startsWith(this.root + sep)) throw new Error('stored file is outside the data root');
    return readFile(path);
  }

  /** Removes a stored file; a location outside the data root (or not a file URL) is left alone. */
  async remove(location: string): Promise<void> {
    try {
      const path = fileURLToPath(location);
      if (resolve(path).startsWith(this.root + sep)) await rm(path, { force: true });
    } catch {
      // Not a local file of ours: nothing to remove.
    }
  }
}
