import { getCompileCacheDir } from 'node:module';
import { dirname } from 'node:path';

/**
 * Memory settings that the C library and V8 read only when a process starts, so no code inside it
 * can apply them: `plaza serve` puts them in place by replacing itself, once, with the same command
 * under them (process.execve: the same pid, nothing left running beside it).
 *
 * glibc keeps what is freed for reuse: in an arena per thread that allocates (libvips' workers,
 * libuv's pool, V8's compilers), and, for blocks up to 32 MB once one that large was freed, in the
 * heap. Decoded photos are such blocks: after eight of them 250 MB more stayed resident for good.
 * - MALLOC_ARENA_MAX=1: one arena for all threads. With a second one, 20-30 MiB that libvips'
 *   workers and V8's compilers had freed stayed resident in it after a load; one costs no measurable
 *   image-processing time.
 * - MALLOC_MMAP_THRESHOLD_=1 MiB: blocks from 1 MiB up are mapped on their own and handed back to
 *   the OS when freed (this also stops glibc from raising the threshold).
 * - A young generation of a few MiB instead of V8's 16 MiB semi-spaces, which it grows to within the
 *   first requests and keeps until it is idle long enough to shrink them: tens of MiB when idle.
 * - An old generation allowed to grow by 10% past what the last full collection kept, instead of the
 *   up to 4× V8 picks by itself: under load the heap grew to that and stayed there once idle, about
 *   100 MiB on PostgreSQL; the extra full collections did not show in request throughput.
 * - V8's memory saver mode: V8 13.6 keeps the pages a collection freed in a pool, resident, until a
 *   memory-reducing collection, and its idle memory reducer never starts one in Node (it reads the
 *   zero allocation rate of the C++ heap Node does not use as a high one): 35-40 MiB after a load.
 *   In this mode every full collection reduces memory and empties the pool.
 *
 * A variable set by whoever started Plaza wins, and once all are set there is nothing to do. Where
 * execve is missing (Windows), Plaza runs without them.
 *
 * The new process is also told where the compile cache is (NODE_COMPILE_CACHE), so that it reads
 * main.ts and what main.ts imports from it too instead of stripping their types again (main.ts
 * enables the cache only once those are loaded): about 80 ms of CPU at every start.
 */
const ENV: Record<string, string> = { MALLOC_ARENA_MAX: '1', MALLOC_MMAP_THRESHOLD_: String(1024 * 1024) };
const NODE_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=10', '--memory-saver-mode'];

export function execWithProcessSettings(): void {
  if (Object.keys(ENV).every((name) => process.env[name] !== undefined) || typeof process.execve !== 'function') return;
  // The Node options given come after Plaza's, so that they win.
  const args = [process.execPath, ...NODE_FLAGS, ...process.execArgv, ...process.argv.slice(1)];
  // getCompileCacheDir names the folder for this Node version inside the one the cache was given.
  const compileCache = getCompileCacheDir();
  const cacheEnv = compileCache === undefined ? {} : { NODE_COMPILE_CACHE: dirname(compileCache) };
  process.execve(process.execPath, args, { ...ENV, ...cacheEnv, ...process.env });
}
