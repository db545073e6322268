import { sql, type RawBuilder } from 'kysely';
import type { Database } from '../db/database.ts';
import { deliveryGroups } from './deliveries.ts';
import type { FeedAuthor, FeedDelivery, FeedEntry, FeedPage, FeedPageQuery, FeedStore } from './types.ts';

/**
 * Home feeds in the `home_feeds` table (the embedded profile; PGlite or PostgreSQL). It holds every
 * feed whole, so its pages are always complete. Feeds of users who no longer exist are skipped.
 */
export class PostgresFeedStore implements FeedStore {
  readonly maxLength = Number.POSITIVE_INFINITY;
  readonly authorEntry = authorEntryQuery;
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async add(deliveries: readonly FeedDelivery[]): Promise<void> {
    await insertDeliveries(this.#db, deliveries);
  }

  async removePost(postId: string, _userIds: readonly string[]): Promise<void> {
    // From every feed, not only the ones named: followers may have changed since the fan-out.
    await this.#db.deleteFrom('home_feeds').where('post_id', '=', postId).execute();
  }

  async removeAuthors(pairs: readonly FeedAuthor[]): Promise<void> {
    if (pairs.length === 0) return;
    await sql`
      delete from home_feeds h
      using unnest(${pairs.map((pair) => pair.userId)}::text[], ${pairs.map((pair) => pair.authorId)}::text[]) as p (user_id, author_id)
      where h.user_id = p.user_id and h.author_id = p.author_id`.execute(this.#db);
  }

  async page(userId: string, query: FeedPageQuery): Promise<FeedPage> {
    if (query.limit <= 0) return { postIds: [], complete: true };
    let select = this.#db.selectFrom('home_feeds').select('post_id').where('user_id', '=', userId);
    if (query.beforeId !== undefined) select = select.where('post_id', '<', query.beforeId);
    const rows = await select.orderBy('post_id', 'desc').limit(query.limit).execute();
    return { postIds: rows.map((row) => row.post_id), complete: true };
  }

  async replace(userId: string, entries: readonly FeedEntry[]): Promise<void> {
    const run = async (db: Database) => {
      await db.deleteFrom('home_feeds').where('user_id', '=', userId).execute();
      await insertDeliveries(db, [{ userIds: [userId], entries }]);
    };
    if (this.#db.isTransaction) await run(this.#db);
    else await this.#db.transaction().execute(run);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.#db);
  }

  /** The database belongs to whoever opened it. */
  async close(): Promise<void> {}
}

/**
 * The statement that writes a new post into its author's own feed (the author exists: they just
 * posted). A template: it is built on every post, and the query builder costs more.
 */
export function authorEntryQuery(entry: FeedEntry): RawBuilder<unknown> {
  return sql`insert into home_feeds (user_id, post_id, author_id) values (${entry.authorId}, ${entry.postId}, ${entry.authorId})`;
}

/** One statement per group of at most FEED_ENTRIES_PER_WRITE entries. */
async function insertDeliveries(db: Database, deliveries: readonly FeedDelivery[]): Promise<void> {
  for (const group of deliveryGroups(deliveries)) await insertGroup(db, group);
}

async function insertGroup(db: Database, deliveries: readonly FeedDelivery[]): Promise<void> {
  const users = deliveries.flatMap((delivery, index) => delivery.userIds.map((userId) => [userId, index] as const));
  const entries = deliveries.flatMap((delivery, index) => delivery.entries.map((entry) => [entry, index] as const));
  if (users.length === 0 || entries.length === 0) return;
  // One statement for the whole group: each delivery's users joined to its entries. Joining users
  // skips followers and authors deleted meanwhile (a read-only join on the accounts module's
  // table, to save a round trip: nothing here writes it).
  await sql`
    insert into home_feeds (user_id, post_id, author_id)
    select u.id, e.post_id, a.id
    from unnest(${users.map(([userId]) => userId)}::text[], ${users.map(([, index]) => index)}::int[]) as d (user_id, delivery)
    join unnest(
      ${entries.map(([entry]) => entry.postId)}::text[], ${entries.map(([entry]) => entry.authorId)}::text[], ${entries.map(([, index]) => index)}::int[]
    ) as e (post_id, author_id, delivery) on e.delivery = d.delivery
    join users u on u.id = d.user_id
    join users a on a.id = e.author_id
    on conflict do nothing`.execute(db);
}
