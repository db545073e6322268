import { performance } from 'node:perf_hooks';

/**
 * Gives the C library's free memory back to the OS once the process falls idle after work.
 *
 * glibc keeps what is freed in its heap for reuse, and returns only the part at the very top of it:
 * after a load (requests, photos decoded by libvips) most of what it holds is free space in holes
 * below blocks still in use, 45-60 MiB on PostgreSQL, resident for good. Only `malloc_trim` hands
 * those pages back, and JavaScript cannot call it: koffi (a C FFI with prebuilt binaries) does,
 * loaded at the first trim, never at start. Elsewhere than glibc Linux there is nothing to call.
 *
 * A trim walks the whole heap (30 ms for 200 MiB of holes), so it runs only when the event loop
 * was nearly idle for a whole check, and once after each busy spell.
 */
export type HeapTrimOptions = {
  /** How often the event loop's utilization is read. */
  readonly checkMs: number;
  /** Above this share of a check the process counts as busy. */
  readonly busyUtilization: number;
  /** Hands free memory back: true when some was. */
  readonly trim: () => Promise<boolean>;
  readonly logger: { debug(details: object, message: string): void };
};

export const HEAP_TRIM_DEFAULTS = { checkMs: 3000, busyUtilization: 0.05 } as const;

/** Starts the checks; the returned function stops them. */
export function trimHeapWhenIdle(options: HeapTrimOptions): () => void {
  let last = performance.eventLoopUtilization();
  let busySinceTrim = false;
  let trimming = false;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    if (utilization > options.busyUtilization) busySinceTrim = true;
    else if (busySinceTrim && !trimming) {
      busySinceTrim = false;
      trimming = true;
      void trimOnce(options).finally(() => (trimming = false));
    }
  }, options.checkMs).unref();
  return () => clearInterval(timer);
}

async function trimOnce({ trim, logger }: HeapTrimOptions): Promise<void> {
  const before = process.memoryUsage.rss();
  const started = performance.now();
  const released = await trim();
  if (!released) return;
  const mib = (bytes: number) => Math.round(bytes / 104857.6) / 10;
  logger.debug({ rssBeforeMiB: mib(before), rssAfterMiB: mib(process.memoryUsage.rss()), ms: Math.round(performance.now() - started) }, 'memory: free heap pages handed back to the OS');
}

let mallocTrim: Promise<((pad: number) => number) | undefined> | undefined;

/** glibc's `malloc_trim(0)`; false, and nothing done, where it cannot be called. */
export async function trimMallocHeap(): Promise<boolean> {
  mallocTrim ??= loadMallocTrim();
  const call = await mallocTrim;
  return call === undefined ? false : call(0) === 1;
}

async function loadMallocTrim(): Promise<((pad: number) => number) | undefined> {
  if (process.platform !== 'linux') return undefined;
  const { header } = process.report.getReport() as { header: { glibcVersionRuntime?: string } };
  if (header.glibcVersionRuntime === undefined) return undefined;
  try {
    const { default: koffi } = await import('koffi');
    return koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as (pad: number) => number;
  } catch {
    // No prebuilt koffi for this machine: the memory stays with glibc, as it would without Plaza doing anything.
    return undefined;
  }
}
