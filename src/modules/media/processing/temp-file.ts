import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Writes the source to a private temporary file, runs `use` on its path, then removes it, and with it
 * anything `use` wrote into `dir` (the private directory holding it).
 */
export async function withTempFile<T>(source: Readable, use: (path: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'plaza-media-'));
  try {
    const path = join(dir, 'original');
    await pipeline(source, createWriteStream(path, { mode: 0o600 }));
    return await use(path, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
