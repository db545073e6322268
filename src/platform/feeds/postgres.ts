import { sql } from 'kysely';
import type { Database } from '../db/database.ts';
import type { FeedEntry, FeedPage, FeedPageQuery, FeedStore } from './types.ts';

/**
 * Home feeds in the `home_feeds` table (the embedded profile; PGlite or PostgreSQL). It holds every
 * feed whole, so its pages are always complete. Feeds of users who no longer exist are skipped.
 */
export class PostgresFeedStore implements FeedStore {
  readonly maxLength = Number.POSITIVE_INFINITY;
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async add(userIds: readonly string[], entry: FeedEntry): Promise<void> {
    if (userIds.length === 0) return;
    // One statement for the whole fan-out; joining users skips followers deleted meanwhile (a
    // read-only join on the accounts module's table, to save a round trip: nothing here writes it).
    await sql`
      insert into home_feeds (user_id, post_id, author_id)
      select u.id, ${entry.postId}, a.id
      from users u join users a on a.id = ${entry.authorId}
      where u.id = any(${[...userIds]}::text[])
      on conflict do nothing`.execute(this.#db);
  }

  async addMany(userId: string, entries: readonly FeedEntry[]): Promise<void> {
    await insertEntries(this.#db, userId, entries);
  }

  async removePost(postId: string, _userIds: readonly string[]): Promise<void> {
    // From every feed, not only the ones named: followers may have changed since the fan-out.
    await this.#db.deleteFrom('home_feeds').where('post_id', '=', postId).execute();
  }

  async removeAuthor(userId: string, authorId: string): Promise<void> {
    await this.#db.deleteFrom('home_feeds').where('user_id', '=', userId).where('author_id', '=', authorId).execute();
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
      await insertEntries(db, userId, entries);
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

async function insertEntries(db: Database, userId: string, entries: readonly FeedEntry[]): Promise<void> {
  if (entries.length === 0) return;
  // Joining users (read only: the accounts module owns it) leaves out entries of deleted users in
  // the same statement, instead of a look-up first.
  await sql`
    insert into home_feeds (user_id, post_id, author_id)
    select u.id, e.post_id, a.id
    from unnest(${entries.map((entry) => entry.postId)}::text[], ${entries.map((entry) => entry.authorId)}::text[])
      as e (post_id, author_id)
    join users u on u.id = ${userId}
    join users a on a.id = e.author_id
    on conflict do nothing`.execute(db);
}
