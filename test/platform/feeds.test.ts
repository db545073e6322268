import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.ts';
import { newId } from '../../src/db/ids.ts';
import type { DatabaseHandle } from '../../src/platform/db/database.ts';
import { openDatabase } from '../../src/platform/db/open.ts';
import { migrateToLatest } from '../../src/platform/db/migrate.ts';
import { PostgresFeedStore } from '../../src/platform/feeds/postgres.ts';
import { RedisFeedStore } from '../../src/platform/feeds/redis.ts';
import { FEED_ENTRIES_PER_WRITE } from '../../src/platform/feeds/deliveries.ts';
import type { FeedEntry, FeedStore } from '../../src/platform/feeds/types.ts';
import { createTestDatabase, servicesDatabaseUrl } from '../helpers/database.ts';
import { redisPerSuite, redisSkip } from '../helpers/redis.ts';

/**
 * The feed store contract. The PostgreSQL store runs on PGlite, or on PostgreSQL in the services
 * run; the Redis store runs on REDIS_URL when set, else on a private redis-server when one is
 * installed, else it is skipped.
 */
type Harness = {
  store: FeedStore;
  /** Users who exist, each with an empty feed (built, for a cache). */
  users(count: number): Promise<string[]>;
  /** How many feeds hold this post, counted in the store itself. */
  feedsHolding(postId: string, userIds: readonly string[]): Promise<number>;
  /** How many round trips to the backing service `work` makes. */
  roundTrips(work: () => Promise<void>): Promise<number>;
};
type HarnessFactory = (options?: { maxLength?: number }) => Promise<Harness>;

describe(`feed store (${servicesDatabaseUrl === undefined ? 'pglite' : 'postgres'})`, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'plaza-feeds-'));
  let testDatabase: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let database: DatabaseHandle;
  let queries = 0;
  before(async () => {
    if (servicesDatabaseUrl !== undefined) testDatabase = await createTestDatabase(servicesDatabaseUrl);
    const config = loadConfig({
      DATA_DIR: dataDir,
      JWT_SECRET: 'x'.repeat(32),
      ...(testDatabase !== undefined && { DATABASE_URL: testDatabase.url }),
    });
    database = await openDatabase(config, { onQuery: () => void (queries += 1) });
    await migrateToLatest(database);
  });
  after(async () => {
    await database?.close();
    await testDatabase?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const postgres: HarnessFactory = async () => {
    const db = database.db;
    return {
      store: new PostgresFeedStore(db),
      users: (count) => insertUsers(database, count),
      async feedsHolding(postId, userIds) {
        const row = await db
          .selectFrom('home_feeds')
          .select((eb) => eb.fn.countAll<string | number>().as('count'))
          .where('post_id', '=', postId)
          .where('user_id', 'in', [...userIds])
          .executeTakeFirstOrThrow();
        return Number(row.count);
      },
      async roundTrips(work) {
        const before = queries;
        await work();
        return queries - before;
      },
    };
  };
  contract(postgres);

  it('deletes a user’s feed, and their posts in other feeds, with the user', async () => {
    const { store, users } = await postgres();
    const [reader, author] = await users(2);
    const [other] = await users(1);
    const posts = [entry(author!), entry(other!)];
    await store.add([{ userIds: [reader!], entries: posts }]);
    await store.add([{ userIds: [author!], entries: [entry(other!)] }]);
    await database.db.deleteFrom('users').where('id', '=', author!).execute();
    assert.deepEqual((await store.page(reader!, { limit: 10 })).postIds, [posts[1]!.postId]);
    assert.deepEqual(await store.page(author!, { limit: 10 }), { postIds: [], complete: true });
    // A fan-out to a follower deleted meanwhile (or by a deleted author) adds nothing, and fails nothing.
    await store.add([{ userIds: [author!, reader!], entries: [entry(other!)] }]);
    await store.add([{ userIds: [reader!], entries: [entry(author!)] }]);
    assert.equal((await store.page(reader!, { limit: 10 })).postIds.length, 2);
  });
});

describe('feed store (redis)', { skip: redisSkip }, () => {
  const redisForSuite = redisPerSuite();

  const redis = async (options: { maxLength?: number } = {}) => {
    const prefix = redisForSuite.newPrefix();
    const store = redisForSuite.closedAfter(new RedisFeedStore({ redisUrl: redisForSuite.url, prefix, ...options }));
    return {
      store,
      prefix,
      async users(count: number) {
        const ids = Array.from({ length: count }, () => newId());
        for (let start = 0; start < ids.length; start += 1000) {
          await Promise.all(ids.slice(start, start + 1000).map((id) => store.replace(id, [])));
        }
        return ids;
      },
      async feedsHolding(postId: string, userIds: readonly string[]) {
        const pipeline = redisForSuite.client.pipeline();
        for (const userId of userIds) pipeline.zrangebylex(`${prefix}:feed:${userId}`, `[${postId}:`, `(${postId};`);
        const replies = (await pipeline.exec()) ?? [];
        return replies.filter(([, members]) => (members as string[]).length > 0).length;
      },
      roundTrips: (work: () => Promise<void>) => countRedisRoundTrips(work),
    };
  };
  contract(redis);

  it('keeps the newest entries up to its cap, and says when a page reaches past them', async () => {
    const { store, users } = await redis({ maxLength: 5 });
    const [reader, author] = await users(2);
    const posts = newestFirst(8, author!);
    for (const post of [...posts].reverse()) await store.add([{ userIds: [reader!], entries: [post] }]);
    const kept = posts.slice(0, 5).map((post) => post.postId);
    assert.deepEqual(await store.page(reader!, { limit: 3 }), { postIds: kept.slice(0, 3), complete: true });
    assert.deepEqual(await store.page(reader!, { limit: 10 }), { postIds: kept, complete: false });
    assert.deepEqual(await store.page(reader!, { beforeId: kept[2], limit: 2 }), { postIds: kept.slice(3), complete: true });
    assert.equal((await store.page(reader!, { beforeId: kept[2], limit: 3 })).complete, false);
    assert.equal((await store.page(reader!, { beforeId: kept[4], limit: 3 })).complete, false);

    // A post older than the cut is not added back: the ones dropped around it would be missing.
    await store.add([{ userIds: [reader!], entries: [posts[6]!] }]);
    assert.deepEqual((await store.page(reader!, { limit: 10 })).postIds, kept);
    // Removing entries does not make the cut feed whole again.
    await store.removePost(kept[4]!, [reader!]);
    assert.deepEqual(await store.page(reader!, { limit: 10 }), { postIds: kept.slice(0, 4), complete: false });
  });

  it('treats a lost feed as not built until it is replaced', async () => {
    const { store, users, prefix } = await redis({ maxLength: 5 });
    const [reader, author] = await users(2);
    const posts = newestFirst(7, author!);
    await store.add([{ userIds: [reader!], entries: posts.slice(0, 2) }]);
    await redisForSuite.deleteKeys(`${prefix}:*`); // the cache is flushed, evicted or restarted

    assert.deepEqual(await store.page(reader!, { limit: 10 }), { postIds: [], complete: false });
    await store.add([{ userIds: [reader!], entries: [posts[0]!] }]);
    await store.add([{ userIds: [reader!], entries: posts.slice(1, 2) }]);
    assert.equal(await redisForSuite.client.exists(`${prefix}:feed:${reader}`), 0, 'writes skip a feed not built');
    assert.deepEqual(await store.page(reader!, { limit: 10 }), { postIds: [], complete: false });

    // Fewer than the cap: the whole feed.
    await store.replace(reader!, posts.slice(0, 3).reverse());
    assert.deepEqual(await store.page(reader!, { limit: 10 }), { postIds: ids(posts.slice(0, 3)), complete: true });
    // As many as the cap or more: older ones unknown.
    await store.replace(reader!, posts);
    assert.deepEqual(await store.page(reader!, { limit: 10 }), { postIds: ids(posts.slice(0, 5)), complete: false });
    assert.deepEqual(await store.page(reader!, { limit: 5 }), { postIds: ids(posts.slice(0, 5)), complete: true });
    // Built but empty is complete.
    await store.replace(reader!, []);
    assert.deepEqual(await store.page(reader!, { limit: 10 }), { postIds: [], complete: true });
  });

  it('keeps a feed emptied by removals built', async () => {
    const { store, users } = await redis();
    const [reader, author] = await users(2);
    await store.add([{ userIds: [reader!], entries: newestFirst(3, author!) }]);
    await store.removeAuthors([{ userId: reader!, authorId: author! }]);
    assert.deepEqual(await store.page(reader!, { limit: 10 }), { postIds: [], complete: true });
  });
});

function contract(create: HarnessFactory): void {
  it('answers ping with one round trip to its backing service, once connected', async () => {
    const { store, roundTrips } = await create();
    await store.ping(); // a new Redis connection says hello first
    assert.equal(await roundTrips(() => store.ping()), 1);
  });

  it('pages an empty feed as complete', async () => {
    const { store, users } = await create();
    const [reader] = await users(1);
    assert.deepEqual(await store.page(reader!, { limit: 20 }), { postIds: [], complete: true });
  });

  it('pages newest first, whatever order posts arrived in', async () => {
    const { store, users } = await create();
    const [reader, ada, bob] = await users(3);
    const posts = newestFirst(12, ada!).map((post, i) => (i % 3 === 0 ? { ...post, authorId: bob! } : post));
    for (const post of shuffled(posts)) await store.add([{ userIds: [reader!], entries: [post] }]);
    assert.deepEqual(await store.page(reader!, { limit: 50 }), { postIds: ids(posts), complete: true });
    assert.deepEqual(await store.page(reader!, { limit: 5 }), { postIds: ids(posts.slice(0, 5)), complete: true });
  });

  it('pages by beforeId without repeats or gaps while the feed changes', async () => {
    const { store, users } = await create();
    const [reader, author] = await users(2);
    const posts = newestFirst(30, author!);
    await store.add([{ userIds: [reader!], entries: shuffled(posts) }]);
    const seen: string[] = [];
    let beforeId: string | undefined;
    const removedUnseen = posts[17]!.postId;
    for (let round = 0; round < 10; round++) {
      const page = await store.page(reader!, { beforeId, limit: 7 });
      assert.equal(page.complete, true);
      seen.push(...page.postIds);
      if (page.postIds.length < 7) break;
      beforeId = page.postIds.at(-1);
      if (round === 0) {
        await store.add([{ userIds: [reader!], entries: [entry(author!)] }]); // newer than every page still to come
        await store.removePost(posts[2]!.postId, [reader!]); // on a page already seen
        await store.removePost(removedUnseen, [reader!]);
      }
    }
    assert.deepEqual(seen, ids(posts).filter((id) => id !== removedUnseen));
  });

  it('adds each post once however often it is added', async () => {
    const { store, users } = await create();
    const [reader, other, author] = await users(3);
    const posts = newestFirst(3, author!);
    await store.add([{ userIds: [reader!, other!], entries: [posts[1]!] }]);
    await store.add([{ userIds: [reader!, reader!, other!], entries: [posts[1]!] }]);
    await store.add([{ userIds: [reader!], entries: posts }]);
    await store.add([{ userIds: [reader!], entries: [...posts, ...posts] }]);
    assert.deepEqual((await store.page(reader!, { limit: 10 })).postIds, ids(posts));
    assert.deepEqual((await store.page(other!, { limit: 10 })).postIds, [posts[1]!.postId]);
  });

  it('removes a post from feeds', async () => {
    const { store, users } = await create();
    const [ada, bob, author] = await users(3);
    const posts = newestFirst(3, author!);
    await store.add([{ userIds: [ada!], entries: posts }]);
    await store.add([{ userIds: [bob!], entries: posts }]);
    await store.removePost(posts[1]!.postId, [ada!, bob!]);
    await store.removePost(newId(), [ada!]); // a post no feed has
    for (const reader of [ada!, bob!]) {
      assert.deepEqual((await store.page(reader, { limit: 10 })).postIds, ids([posts[0]!, posts[2]!]));
    }
  });

  it('removes authors from feeds, each from its own, in one round trip', async () => {
    const { store, users, roundTrips } = await create();
    const [reader, other, third, ada, bob] = await users(5);
    const posts = newestFirst(6, ada!).map((post, i) => (i % 2 === 0 ? { ...post, authorId: bob! } : post));
    for (const userId of [reader!, other!, third!]) await store.add([{ userIds: [userId], entries: posts }]);
    const unfollows = [{ userId: reader!, authorId: bob! }, { userId: third!, authorId: ada! }];
    assert.equal(await roundTrips(() => store.removeAuthors(unfollows)), 1);
    const page = async (userId: string) => (await store.page(userId, { limit: 10 })).postIds;
    assert.deepEqual(await page(reader!), ids(posts.filter((post) => post.authorId === ada)));
    assert.deepEqual(await page(third!), ids(posts.filter((post) => post.authorId === bob)));
    assert.deepEqual(await page(other!), ids(posts), 'other feeds keep the authors');
    await store.removeAuthors(unfollows); // again: harmless
    await store.removeAuthors([]);
  });

  it('replaces a feed as a whole', async () => {
    const { store, users } = await create();
    const [reader, author] = await users(2);
    const posts = newestFirst(4, author!);
    await store.add([{ userIds: [reader!], entries: posts.slice(0, 2) }]);
    await store.replace(reader!, posts.slice(2));
    assert.deepEqual(await store.page(reader!, { limit: 10 }), { postIds: ids(posts.slice(2)), complete: true });
  });

  it('fans a batch of posts by several authors out, each to its own audience, in one round trip', async () => {
    const { store, users, roundTrips } = await create();
    const [ada, bob, both, adaOnly, bobOnly, neither] = await users(6);
    const adaPosts = newestFirst(3, ada!);
    const bobPosts = newestFirst(2, bob!);
    const trips = await roundTrips(() =>
      store.add([
        { userIds: [both!, adaOnly!], entries: adaPosts },
        { userIds: [both!, bobOnly!], entries: bobPosts },
        { userIds: [], entries: [entry(ada!)] },
      ]),
    );
    assert.equal(trips, 1);
    const page = async (userId: string) => (await store.page(userId, { limit: 10 })).postIds;
    assert.deepEqual(await page(both!), ids([...adaPosts, ...bobPosts]).sort().reverse());
    assert.deepEqual(await page(adaOnly!), ids(adaPosts));
    assert.deepEqual(await page(bobOnly!), ids(bobPosts));
    assert.deepEqual(await page(neither!), []);
  });

  it('writes a fan-out in round trips of at most FEED_ENTRIES_PER_WRITE entries', async () => {
    const { store, users, feedsHolding, roundTrips } = await create();
    const [ada, bob] = await users(2);
    const followers = await users(FEED_ENTRIES_PER_WRITE / 2 + 1);
    const adaPosts = newestFirst(3, ada!);
    const bobPost = entry(bob!);
    // 3 × 5,001 + 5,001 entries: at most 10,000 a trip is 3 trips, filled to the brim.
    const trips = await roundTrips(() => store.add([{ userIds: followers, entries: adaPosts }, { userIds: followers, entries: [bobPost] }]));
    assert.equal(trips, 3);
    for (const post of [...adaPosts, bobPost]) assert.equal(await feedsHolding(post.postId, followers), followers.length);
  });

  it('fans a post out to 10,000 feeds', async () => {
    const { store, users, feedsHolding, roundTrips } = await create();
    const [author] = await users(1);
    const followers = await users(10_000);
    const post = entry(author!);
    const started = performance.now();
    const trips = await roundTrips(() => store.add([{ userIds: followers, entries: [post] }]));
    const took = performance.now() - started;
    assert.ok(trips <= 12, `fan-out took ${trips} round trips`);
    assert.equal(await feedsHolding(post.postId, followers), 10_000);
    for (const reader of [followers[0]!, followers[4321]!, followers.at(-1)!]) {
      assert.deepEqual(await store.page(reader, { limit: 10 }), { postIds: [post.postId], complete: true });
    }
    assert.ok(took < 10_000, `fan-out took ${Math.round(took)} ms`);
    await store.removePost(post.postId, followers);
    assert.equal(await feedsHolding(post.postId, followers), 0);
  });
}

/** Posts by `authorId`, newest first, with ids as far apart in time as posts made a second apart. */
function newestFirst(count: number, authorId: string): FeedEntry[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({ postId: newId(now - 1000 * (count - i)), authorId })).reverse();
}

function entry(authorId: string): FeedEntry {
  return { postId: newId(), authorId };
}

function ids(entries: readonly FeedEntry[]): string[] {
  return entries.map((entry) => entry.postId);
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

async function insertUsers(database: DatabaseHandle, count: number): Promise<string[]> {
  const tag = randomBytes(6).toString('hex');
  const rows = await sql<{ id: string }>`
    insert into users (id, handle, name, created_at, updated_at)
    select ${tag} || '-' || lpad(g::text, 6, '0'), ${tag} || '_' || g, 'Reader', now(), now()
    from generate_series(1, ${count}::int) g
    returning id`.execute(database.db);
  return rows.rows.map((row) => row.id).sort();
}

/**
 * Counts what ioredis sends while `work` runs (nothing else may use Redis meanwhile): each command
 * sent alone is a round trip, and so is each pipeline or transaction, however many commands it holds.
 */
async function countRedisRoundTrips(work: () => Promise<void>): Promise<number> {
  let alone = 0;
  const batches = new Set<object>();
  type SendCommand = (command: unknown, stream?: { isPipeline?: boolean }, ...rest: unknown[]) => unknown;
  const prototype = Redis.prototype as unknown as { sendCommand: SendCommand };
  const original = prototype.sendCommand;
  prototype.sendCommand = function (this: unknown, command, stream, ...rest) {
    if (stream?.isPipeline) batches.add(stream);
    else alone += 1;
    return original.call(this, command, stream, ...rest);
  };
  try {
    await work();
  } finally {
    prototype.sendCommand = original;
  }
  return alone + batches.size;
}
