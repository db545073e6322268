import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/**
 * The Redis the suites that need one run on (BENCH_REDIS_URL, REDIS_URL or the local default), with
 * a key prefix of this run's own: `release` deletes what was written under it and disconnects.
 */
export type BenchRedis = { url: string; host: string; prefix: string; client: Redis; release(): Promise<void> };

/** Connects, or says why a suite has no Redis to run on. */
export async function connectBenchRedis(): Promise<BenchRedis | { skipped: string }> {
  const url = process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const host = new URL(url).host;
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    return { skipped: `no Redis at ${host}: ${(error as Error).message}` };
  }
  const prefix = `plaza-bench-${randomBytes(6).toString('hex')}`;
  const release = async () => {
    for await (const keys of client.scanStream({ match: `${prefix}:*`, count: 1000 })) {
      if ((keys as string[]).length > 0) await client.unlink(...(keys as string[]));
    }
    client.disconnect();
  };
  return { url, host, prefix, client, release };
}
