import { Redis, type ChainableCommander } from 'ioredis';
import { deliveryGroups } from './deliveries.ts';
import { DEFAULT_FEED_MAX_LENGTH, type FeedAuthor, type FeedDelivery, type FeedEntry, type FeedPage, type FeedPageQuery, type FeedStore } from './types.ts';

export type RedisFeedStoreOptions = {
  redisUrl: string;
  /** Namespaces every key, so deployments and test runs can share one Redis. */
  prefix: string;
  /** Entries kept per feed (default 800); older ones are dropped, and read from PostgreSQL. */
  maxLength?: number;
  /** A feed nobody reads for this long expires (default 7 days); it is rebuilt when next read. */
  idleTtlSeconds?: number;
  /** Connection trouble (ioredis reconnects by itself). */
  onError?: (error: Error) => void;
};

/**
 * Entries (one post in one feed) per script call in a fan-out: a call holds Redis for about a
 * millisecond, and a fan-out of one post to 10,000 followers is 10 calls. The calls of up to
 * FEED_ENTRIES_PER_WRITE entries go in one round trip.
 */
const ENTRIES_PER_CALL = 1000;

/**
 * Each feed is one sorted set, every score 0 so it orders by member, as bytes. A member is
 * `<postId>:<authorId>`; post ids are ULIDs (fixed length, time-ordered, no `:`, never starting
 * with a character below `"`), so members sort by age. Besides entries, a built feed always holds
 * one marker, which sorts below every entry:
 *
 * - `""`: the feed is whole — nothing older than its oldest entry exists.
 * - `"!" + member`: the feed was cut at the cap; entries older than `member` are unknown, so a page
 *   reaching below the oldest entry is incomplete, and older entries are not added back.
 *
 * A missing key is a feed not built (never, expired or lost with the cache): its pages are
 * incomplete and writes skip it, until `replace` builds it. An empty feed keeps its marker, so
 * "built but empty" stays distinct from "missing". Needs Redis 6.2 (ZRANGE … BYLEX REV).
 */
export class RedisFeedStore implements FeedStore {
  readonly maxLength: number;
  readonly #prefix: string;
  readonly #idleTtlSeconds: number;
  readonly #redis: Redis;

  constructor(options: RedisFeedStoreOptions) {
    this.maxLength = options.maxLength ?? DEFAULT_FEED_MAX_LENGTH;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) throw new Error('maxLength must be a positive integer');
    this.#prefix = options.prefix;
    this.#idleTtlSeconds = options.idleTtlSeconds ?? 7 * 24 * 3600;
    this.#redis = new Redis(options.redisUrl, { lazyConnect: true });
    this.#redis.on('error', (error: Error) => options.onError?.(error));
    this.#redis.defineCommand('plazaFeedAdd', { lua: ADD_SCRIPT });
    this.#redis.defineCommand('plazaFeedRemoveAuthor', { numberOfKeys: 1, lua: REMOVE_AUTHOR_SCRIPT });
  }

  async add(deliveries: readonly FeedDelivery[]): Promise<void> {
    for (const group of deliveryGroups(deliveries)) await this.#addGroup(group);
  }

  async #addGroup(deliveries: readonly FeedDelivery[]): Promise<void> {
    const pipeline = this.#redis.pipeline() as FeedPipeline;
    let calls = 0;
    for (const { userIds, entries } of deliveries) {
      if (entries.length === 0) continue;
      const members = entries.map(toMember);
      const feedsPerCall = Math.max(1, Math.floor(ENTRIES_PER_CALL / members.length));
      for (let start = 0; start < userIds.length; start += feedsPerCall) {
        const keys = userIds.slice(start, start + feedsPerCall).map((userId) => this.#key(userId));
        pipeline.plazaFeedAdd(keys.length, ...keys, this.maxLength, ...members);
        calls += 1;
      }
    }
    if (calls > 0) await exec(pipeline);
  }

  async removePost(postId: string, userIds: readonly string[]): Promise<void> {
    // Every member of this post, whoever wrote it: from "<postId>:" up to (not including) "<postId>;".
    const pipeline = this.#redis.pipeline();
    for (const userId of userIds) pipeline.zremrangebylex(this.#key(userId), `[${postId}:`, `(${postId};`);
    await exec(pipeline);
  }

  async removeAuthors(pairs: readonly FeedAuthor[]): Promise<void> {
    if (pairs.length === 0) return;
    const pipeline = this.#redis.pipeline() as FeedPipeline;
    for (const { userId, authorId } of pairs) pipeline.plazaFeedRemoveAuthor(this.#key(userId), authorId);
    await exec(pipeline);
  }

  async page(userId: string, query: FeedPageQuery): Promise<FeedPage> {
    const key = this.#key(userId);
    const newest = query.beforeId === undefined ? '+' : `(${query.beforeId}`;
    const limit = Math.max(0, query.limit);
    const replies = await exec(
      this.#redis
        .multi()
        .zrange(key, '0', '0')
        .zrange(key, newest, FIRST_ENTRY, 'BYLEX', 'REV', 'LIMIT', 0, limit)
        .expire(key, this.#idleTtlSeconds),
    );
    const [marker] = replies[0] as string[];
    if (marker === undefined) return { postIds: [], complete: false };
    const members = replies[1] as string[];
    const postIds = members.map((member) => member.slice(0, member.indexOf(':')));
    return { postIds, complete: members.length === limit || marker === WHOLE };
  }

  async replace(userId: string, entries: readonly FeedEntry[]): Promise<void> {
    const members = [...new Set(entries.map(toMember))].sort().reverse().slice(0, this.maxLength);
    const oldest = members.at(-1);
    const marker = entries.length < this.maxLength || oldest === undefined ? WHOLE : `!${oldest}`;
    const key = this.#key(userId);
    const scored = [marker, ...members].flatMap((member) => ['0', member]);
    await exec(this.#redis.multi().del(key).zadd(key, ...scored).expire(key, this.#idleTtlSeconds));
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }

  #key(userId: string): string {
    return `${this.#prefix}:feed:${userId}`;
  }
}

/** The marker of a feed that is whole. */
const WHOLE = '';
/** The lowest possible entry, as a BYLEX bound: above both markers ("" and "!…"). */
const FIRST_ENTRY = '["';

function toMember(entry: FeedEntry): string {
  return `${entry.postId}:${entry.authorId}`;
}

/** `plazaFeedAdd(numberOfKeys, ...keys, maxLength, ...members)`: see ADD_SCRIPT; `plazaFeedRemoveAuthor`: see REMOVE_AUTHOR_SCRIPT. */
type FeedPipeline = ChainableCommander & {
  plazaFeedAdd(...keysThenArgs: (string | number)[]): FeedPipeline;
  plazaFeedRemoveAuthor(key: string, authorId: string): FeedPipeline;
};

/** Runs a pipeline or transaction, failing on the first command that failed. */
async function exec(commands: ChainableCommander): Promise<unknown[]> {
  const results = (await commands.exec()) ?? [];
  for (const [error] of results) if (error) throw error;
  return results.map(([, reply]) => reply);
}

/**
 * KEYS the feeds, ARGV[1] the cap, ARGV[2…] members: adds every member to every feed. Skips feeds
 * not built; in a cut feed, drops entries below the cut (older posts may be missing around them);
 * then cuts each feed to its cap. Answers how many feeds it wrote to. The keys of one call may
 * live in different hash slots, so this needs one Redis server (or a primary), not a Cluster.
 */
const ADD_SCRIPT = `
local cap = tonumber(ARGV[1])
local written = 0
for _, key in ipairs(KEYS) do
  local marker = redis.call('zrange', key, 0, 0)[1]
  if marker ~= nil then
    for i = 2, #ARGV do redis.call('zadd', key, 0, ARGV[i]) end
    if string.sub(marker, 1, 1) == '!' then
      redis.call('zremrangebylex', key, '(' .. marker, '(' .. string.sub(marker, 2))
    end
    local over = redis.call('zcard', key) - 1 - cap
    if over > 0 then
      local oldest = redis.call('zrange', key, over + 1, over + 1)[1]
      redis.call('zremrangebyrank', key, 0, over)
      redis.call('zadd', key, 0, '!' .. oldest)
    end
    written = written + 1
  end
end
return written
`;

/** KEYS[1] the feed, ARGV[1] the author: removes the entries whose member ends in ":<author>". */
const REMOVE_AUTHOR_SCRIPT = `
local removed = 0
for _, member in ipairs(redis.call('zrange', KEYS[1], '["', '+', 'BYLEX')) do
  local colon = string.find(member, ':', 1, true)
  if colon and string.sub(member, colon + 1) == ARGV[1] then
    redis.call('zrem', KEYS[1], member)
    removed = removed + 1
  end
end
return removed
`;
