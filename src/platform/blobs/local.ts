import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { access, link, mkdir, open, opendir, readdir, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteLimit } from './byte-limit.ts';
import { BlobTooLargeError } from './errors.ts';
import { assertValidKey, assertValidPrefix, assertValidRange } from './keys.ts';
import type { BlobInfo, BlobStore, ByteRange, ListedBlob, PutOptions } from './types.ts';

/** Writes land here first, on the same filesystem, so moving them into place is one atomic rename. */
const TEMP_DIR = '.tmp';
/** A temp file untouched for this long belongs to a write that died with its process. */
const STALE_TEMP_MS = 60 * 60_000;
/** What the filesystem says when a key has no file (ENOTDIR: a parent segment is a file). */
const ABSENT = new Set(['ENOENT', 'ENOTDIR']);
/** What `rmdir` says of a directory that is not empty, or no longer there. */
const KEPT_DIR = new Set(['ENOTEMPTY', 'EEXIST', ...ABSENT]);

/** Blobs as files under one directory, for the single-process embedded profile. */
export class LocalBlobStore implements BlobStore {
  readonly #root: string;
  readonly #tempDir: string;

  private constructor(root: string) {
    this.#root = resolve(root);
    this.#tempDir = join(this.#root, TEMP_DIR);
  }

  /** Opens the store under `root`, creating it, and removes what writes cut short by a crash left. */
  static async open(root: string): Promise<LocalBlobStore> {
    const store = new LocalBlobStore(root);
    await mkdir(store.#tempDir, { recursive: true });
    await store.#removeStaleTempFiles();
    return store;
  }

  async put(key: string, body: Readable, options: PutOptions): Promise<{ size: number }> {
    const path = this.#path(key);
    const temp = join(this.#tempDir, randomUUID());
    const limit = new ByteLimit(options.maxBytes);
    // flush: the bytes reach the disk before the rename makes them visible under the key.
    const file = createWriteStream(temp, { flags: 'wx', flush: true });
    try {
      await pipeline(body, limit, file);
      await this.#moveIntoPlace(temp, path);
    } catch (error) {
      // The stream may still be opening the file; removing it before then would leave it behind.
      if (!file.closed) await once(file, 'close');
      await rm(temp, { force: true });
      throw error;
    }
    return { size: limit.bytes };
  }

  /**
   * Stores a finished local file under `key` by hard-linking it (no byte is copied; the file may then
   * be removed under its own name), or by copying it when it lives on another filesystem.
   */
  async putLocalFile(key: string, sourcePath: string, options: PutOptions): Promise<{ size: number }> {
    const path = this.#path(key);
    const source = await open(sourcePath, 'r');
    let size: number;
    try {
      size = (await source.stat()).size;
      if (size > options.maxBytes) throw new BlobTooLargeError(options.maxBytes);
      await source.sync(); // on disk before it becomes visible under the key, as `put` guarantees
    } finally {
      await source.close();
    }
    const temp = join(this.#tempDir, randomUUID());
    try {
      await link(sourcePath, temp);
    } catch (error) {
      if (errorCode(error) !== 'EXDEV') throw error;
      return this.put(key, createReadStream(sourcePath), options);
    }
    try {
      await this.#moveIntoPlace(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return { size };
  }

  async get(key: string, range?: ByteRange): Promise<{ body: Readable; size: number } | undefined> {
    if (range !== undefined) assertValidRange(range);
    const file = await this.#openFile(key);
    if (file === undefined) return undefined;
    const { handle, size } = file;
    if (range === undefined) return { body: handle.createReadStream(), size };
    if (range.start >= size) {
      await handle.close();
      throw new RangeError(`Range starts at ${range.start}, past the end of a ${size}-byte blob`);
    }
    return { body: handle.createReadStream({ start: range.start, end: Math.min(range.end, size - 1) }), size };
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    return fileInfo(this.#path(key));
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    try {
      await unlink(path);
    } catch (error) {
      if (!ABSENT.has(errorCode(error))) throw error;
      return;
    }
    await this.#pruneEmptyDirs(dirname(path));
  }

  async *list(prefix: string): AsyncIterable<ListedBlob> {
    assertValidPrefix(prefix);
    // Walk only the deepest directory the prefix names whole.
    const from = join(this.#root, prefix.slice(0, prefix.lastIndexOf('/') + 1));
    let dir;
    try {
      dir = await opendir(from, { recursive: true });
    } catch (error) {
      if (ABSENT.has(errorCode(error))) return;
      throw error;
    }
    for await (const entry of dir) {
      if (!entry.isFile()) continue;
      const key = relative(this.#root, join(entry.parentPath, entry.name)).split(sep).join('/');
      if (!key.startsWith(prefix) || key.startsWith(`${TEMP_DIR}/`)) continue;
      const info = await fileInfo(join(entry.parentPath, entry.name)); // undefined if deleted meanwhile
      if (info !== undefined) yield { key, ...info };
    }
  }

  async ping(): Promise<void> {
    await access(this.#tempDir, constants.W_OK);
  }

  async close(): Promise<void> {}

  #path(key: string): string {
    assertValidKey(key);
    return join(this.#root, key);
  }

  async #openFile(key: string): Promise<{ handle: FileHandle; size: number } | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(this.#path(key), 'r');
    } catch (error) {
      if (ABSENT.has(errorCode(error))) return undefined;
      throw error;
    }
    try {
      const info = await handle.stat();
      if (info.isFile()) return { handle, size: info.size };
    } catch (error) {
      await handle.close();
      throw error;
    }
    await handle.close(); // a directory: some longer key's parent, not a blob
    return undefined;
  }

  async #moveIntoPlace(temp: string, path: string): Promise<void> {
    // A delete pruning the now-empty directory can slip in between mkdir and rename: try again then.
    for (let attempt = 1; ; attempt++) {
      await mkdir(dirname(path), { recursive: true });
      try {
        await rename(temp, path);
        return;
      } catch (error) {
        if (errorCode(error) !== 'ENOENT' || attempt === 3) throw error;
      }
    }
  }

  /** Removes directories left empty by a delete, so deleted media do not leave one each behind. */
  async #pruneEmptyDirs(dir: string): Promise<void> {
    for (let current = dir; current !== this.#root; current = dirname(current)) {
      try {
        await rmdir(current);
      } catch (error) {
        // Not empty (or already gone): its parents are not empty either.
        if (KEPT_DIR.has(errorCode(error))) return;
        throw error;
      }
    }
  }

  async #removeStaleTempFiles(): Promise<void> {
    const staleBefore = Date.now() - STALE_TEMP_MS;
    for (const name of await readdir(this.#tempDir)) {
      const path = join(this.#tempDir, name);
      const info = await stat(path).catch((error: unknown) => {
        if (ABSENT.has(errorCode(error))) return undefined; // removed since the listing
        throw error;
      });
      if (info !== undefined && info.mtimeMs < staleBefore) await rm(path, { force: true });
    }
  }
}

async function fileInfo(path: string): Promise<BlobInfo | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? { size: info.size, modifiedAt: info.mtime } : undefined;
  } catch (error) {
    if (ABSENT.has(errorCode(error))) return undefined;
    throw error;
  }
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? '';
}
