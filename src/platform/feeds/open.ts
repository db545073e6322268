import type { Database } from '../db/database.ts';
import { PostgresFeedStore } from './postgres.ts';
import type { FeedStore } from './types.ts';

export type FeedStoreOptions = {
  /** Where the embedded profile keeps feeds (a table); unused with `redis`. */
  readonly db: Database;
  /** Set when Redis is configured: feeds are then capped sorted sets there, rebuilt from PostgreSQL on a miss. */
  readonly redis?: { readonly url: string; readonly prefix: string } | undefined;
  /** Entries kept per cached feed. */
  readonly maxLength: number;
  /** Redis connection trouble (ioredis reconnects by itself). */
  readonly onError: (error: Error) => void;
};

export async function openFeedStore(options: FeedStoreOptions): Promise<FeedStore> {
  const { redis, maxLength, onError } = options;
  if (redis === undefined) return new PostgresFeedStore(options.db);
  // ioredis is loaded only with Redis, as it is used only then.
  const { RedisFeedStore } = await import('./redis.ts');
  return new RedisFeedStore({ redisUrl: redis.url, prefix: redis.prefix, maxLength, onError });
}
