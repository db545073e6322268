import { MemoryPubSub } from './memory.ts';
import type { PubSub } from './types.ts';

export type PubSubOptions = {
  /** Set when Redis is configured: messages then cross every instance on it. */
  readonly redis?: { readonly url: string; readonly prefix: string } | undefined;
  /** Redis connection trouble (ioredis reconnects, and subscribes again, by itself). */
  readonly onError: (error: Error) => void;
};

export async function openPubSub(options: PubSubOptions): Promise<PubSub> {
  if (options.redis === undefined) return new MemoryPubSub();
  // ioredis is loaded only with Redis, as it is used only then.
  const { RedisPubSub } = await import('./redis.ts');
  const pubsub = new RedisPubSub({ redisUrl: options.redis.url, prefix: options.redis.prefix, onError: options.onError });
  await pubsub.connect();
  return pubsub;
}
