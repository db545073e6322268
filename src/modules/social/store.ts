import { sql } from 'kysely';
import type { Database } from '#platform/db/database.ts';

/** Adds the follow once: true when the row is new (the counters, accounts' to move, must then follow). */
export async function addFollow(db: Database, followerId: string, followeeId: string, at: Date, notify: boolean): Promise<boolean> {
  const inserted = await db
    .insertInto('follows')
    .values({ follower_id: followerId, followee_id: followeeId, created_at: at, notify })
    .onConflict((conflict) => conflict.columns(['follower_id', 'followee_id']).doNothing())
    .executeTakeFirst();
  return (inserted.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/** Whether the follower hears of the followee's new posts, on a follow that exists. */
export async function setNotify(db: Database, followerId: string, followeeId: string, notify: boolean): Promise<void> {
  await db.updateTable('follows').set({ notify }).where('follower_id', '=', followerId).where('followee_id', '=', followeeId).execute();
}

/** Removes the follow, if any: true when there was one. */
export async function removeFollow(db: Database, followerId: string, followeeId: string): Promise<boolean> {
  const deleted = await db
    .deleteFrom('follows')
    .where('follower_id', '=', followerId)
    .where('followee_id', '=', followeeId)
    .executeTakeFirst();
  return deleted.numDeletedRows > 0n;
}

export async function isFollowing(db: Database, followerId: string, followeeId: string): Promise<boolean> {
  const row = await db
    .selectFrom('follows')
    .select('follower_id')
    .where('follower_id', '=', followerId)
    .where('followee_id', '=', followeeId)
    .executeTakeFirst();
  return row !== undefined;
}

/** A keyset page of one side of a user's follows, latest first: their followers, or whom they follow. */
export async function listFollows(
  db: Database,
  query: { userId: string; side: 'followers' | 'following'; before?: { at: Date; otherId: string } | undefined; limit: number },
): Promise<{ other_id: string; created_at: Date }[]> {
  const [own, other] = query.side === 'followers' ? (['followee_id', 'follower_id'] as const) : (['follower_id', 'followee_id'] as const);
  let select = db.selectFrom('follows').select([`${other} as other_id`, 'created_at']).where(own, '=', query.userId);
  if (query.before !== undefined) {
    const { at, otherId } = query.before;
    select = select.where((eb) => eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb(other, '<', otherId)])]));
  }
  return select.orderBy('created_at', 'desc').orderBy(other, 'desc').limit(query.limit).execute();
}

/** Whom the user follows and who follows them, as subqueries not yet run (for accounts' counters). */
export function followsOf(db: Database, userId: string) {
  return {
    followeeIds: db.selectFrom('follows').select('followee_id').where('follower_id', '=', userId),
    followerIds: db.selectFrom('follows').select('follower_id').where('followee_id', '=', userId),
  };
}

/**
 * Followers by followee, for these followees (popular ones too, unless `fanOutMax` leaves them out:
 * see fanOutAudiences). A fan-out reads thousands of followers: they come as one row per followee,
 * the ids in one text (user ids are ULIDs, never holding a space), since decoding a row per follower
 * costs the process more, and its garbage collector most, than the whole query costs PostgreSQL.
 */
async function followersByFollowee(db: Database, followeeIds: readonly string[], fanOutMax?: number): Promise<Map<string, string[]>> {
  const followers = new Map<string, string[]>();
  if (followeeIds.length === 0) return followers;
  const given = sql`${[...followeeIds]}::text[]`;
  // The cut-off reads accounts' counter and mark first, as an array: joined, the planner may walk
  // every user to merge them with the follows.
  const followees =
    fanOutMax === undefined ? given : sql`array(select id from users where id = any(${given}) and followers_count <= ${fanOutMax} and not popular)`;
  const rows = await db
    .selectFrom('follows')
    .select(['followee_id', sql<string>`string_agg(follower_id, ' ')`.as('follower_ids')])
    .where(sql<boolean>`followee_id = any(${followees})`)
    .groupBy('followee_id')
    .execute();
  for (const row of rows) followers.set(row.followee_id, row.follower_ids.split(' '));
  return followers;
}

/** Everyone following each of these users, by user (one without followers is left out). */
export function followersOf(db: Database, userIds: readonly string[]): Promise<Map<string, string[]>> {
  return followersByFollowee(db, userIds);
}

/**
 * The followers of each of these authors who is not popular (more than `max` followers, or still
 * marked so: see popular.ts), by author; popular ones have none. One query however many authors.
 */
export function fanOutAudiences(db: Database, authorIds: readonly string[], max: number): Promise<Map<string, string[]>> {
  return followersByFollowee(db, authorIds, max);
}

/**
 * Of these followers by followee, the follows that do not exist (any more). One query, by followee
 * (the followers are read again, not sent: it costs less than looking each pair up).
 */
export async function missingFollows(db: Database, audiences: ReadonlyMap<string, readonly string[]>): Promise<{ followerId: string; followeeId: string }[]> {
  const current = await followersByFollowee(db, [...audiences.keys()]);
  return [...audiences].flatMap(([followeeId, followerIds]) => {
    const following = new Set(current.get(followeeId));
    return followerIds.filter((followerId) => !following.has(followerId)).map((followerId) => ({ followerId, followeeId }));
  });
}

/** Which of `userIds` the user follows, each with whether they hear of its new posts. */
export async function followedAmong(db: Database, followerId: string, userIds: readonly string[]): Promise<Map<string, { notify: boolean }>> {
  if (userIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('follows')
    .select(['followee_id', 'notify'])
    .where('follower_id', '=', followerId)
    .where('followee_id', 'in', userIds)
    .execute();
  return new Map(rows.map((row) => [row.followee_id, { notify: row.notify }]));
}

/** Of these authors, the followers who asked to hear of each new post, by author. */
export async function notifiedFollowers(db: Database, authorIds: readonly string[]): Promise<Map<string, string[]>> {
  if (authorIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('follows')
    .select(['followee_id', 'follower_id'])
    // `notify` as a literal, not a parameter: a generic plan then still uses the partial index `follows_notify`.
    .where(sql<boolean>`followee_id = any(${[...authorIds]}::text[]) and notify`)
    .execute();
  const followers = Map.groupBy(rows, (row) => row.followee_id);
  return new Map([...followers].map(([authorId, follows]) => [authorId, follows.map((follow) => follow.follower_id)]));
}
