import { sql, type Kysely } from 'kysely';

/**
 * Cheaper home timeline reads. Authors' own posts now go into their own feeds when written (reads
 * no longer merge them in), so existing posts are copied there. And the few users above
 * FANOUT_MAX_FOLLOWERS, whose posts are merged in, are found by an index on the follower count.
 * That index costs follows their HOT updates of `users` (posts and profile edits keep theirs): a
 * fair price, as timelines are read far more often than people follow.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`insert into home_feeds (user_id, post_id, author_id) select author_id, id, author_id from posts on conflict do nothing`.execute(db);
  await db.schema.createIndex('users_followers_count').on('users').column('followers_count').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('users_followers_count').execute();
}
