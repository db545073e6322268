import { MemoryJobQueue } from './memory.ts';
import type { JobQueue } from './types.ts';

export type JobQueueOptions = {
  /** Set when Redis is configured: jobs then go through BullMQ, and any instance may run them. */
  readonly redis?: { readonly url: string; readonly prefix: string } | undefined;
  /** How long closing waits for running jobs. */
  readonly closeTimeoutMs: number;
  /** Redis connection trouble (BullMQ reconnects by itself). */
  readonly onError: (error: Error) => void;
};

export async function openJobQueue(options: JobQueueOptions): Promise<JobQueue> {
  const { redis, closeTimeoutMs, onError } = options;
  if (redis === undefined) return new MemoryJobQueue({ closeTimeoutMs });
  // BullMQ and ioredis are loaded only with Redis, as they are used only then.
  const { BullMQJobQueue } = await import('./bullmq.ts');
  return new BullMQJobQueue({ redisUrl: redis.url, prefix: redis.prefix, closeTimeoutMs, onError });
}
