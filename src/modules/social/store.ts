import { sql } from 'kysely';
import type { Database } from '#platform/db/database.ts';

/**
 * Adds the follow once; both counters move only when the row is new. Answers the followee's new
 * follower count, or undefined when the follow existed already.
 */
export async function addFollow(db: Database, followerId: string, followeeId: string, at: Date): Promise<number | undefined> {
  const inserted = await db
    .insertInto('follows')
    .values({ follower_id: followerId, followee_id: followeeId, created_at: at })
    .onConflict((conflict) => conflict.columns(['follower_id', 'followee_id']).doNothing())
    .executeTakeFirst();
  if ((inserted.numInsertedOrUpdatedRows ?? 0n) === 0n) return undefined;
  return moveCounters(db, followerId, followeeId, 1);
}

/** Removes the follow, if any: the followee's new follower count, or undefined when there was none. */
export async function removeFollow(db: Database, followerId: string, followeeId: string): Promise<number | undefined> {
  const deleted = await db
    .deleteFrom('follows')
    .where('follower_id', '=', followerId)
    .where('followee_id', '=', followeeId)
    .executeTakeFirst();
  if (deleted.numDeletedRows === 0n) return undefined;
  return moveCounters(db, followerId, followeeId, -1);
}

/** Moves both users' counters; answers the followee's new follower count. */
async function moveCounters(db: Database, followerId: string, followeeId: string, by: 1 | -1): Promise<number> {
  await db.updateTable('users').set({ following_count: sql`following_count + ${by}` }).where('id', '=', followerId).execute();
  const followee = await db
    .updateTable('users')
    .set({ followers_count: sql`followers_count + ${by}` })
    .where('id', '=', followeeId)
    .returning('followers_count')
    .executeTakeFirstOrThrow();
  return followee.followers_count;
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

/** Takes a leaving user's follows off the other side's counters (the rows go by cascade). */
export async function releaseFollowCounters(db: Database, userId: string): Promise<void> {
  const followed = db.selectFrom('follows').select('followee_id').where('follower_id', '=', userId);
  const followers = db.selectFrom('follows').select('follower_id').where('followee_id', '=', userId);
  await db.updateTable('users').set({ followers_count: sql`followers_count - 1` }).where('id', 'in', followed).execute();
  await db.updateTable('users').set({ following_count: sql`following_count - 1` }).where('id', 'in', followers).execute();
}

/** Everyone following `userId`. */
export async function followerIds(db: Database, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('follows').select('follower_id').where('followee_id', '=', userId).execute();
  return rows.map((row) => row.follower_id);
}

/** Everyone following `userId`, if they are at most `max`; none otherwise. One query either way. */
export async function followerIdsUpTo(db: Database, userId: string, max: number): Promise<string[]> {
  const rows = await db
    .selectFrom('follows')
    .select('follower_id')
    .where('followee_id', '=', userId)
    .where((eb) => eb(eb.selectFrom('users').select('followers_count').where('id', '=', userId), '<=', max))
    .execute();
  return rows.map((row) => row.follower_id);
}

/** Which of `userIds` the user follows. */
export async function followedAmong(db: Database, followerId: string, userIds: readonly string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('follows')
    .select('followee_id')
    .where('follower_id', '=', followerId)
    .where('followee_id', 'in', userIds)
    .execute();
  return new Set(rows.map((row) => row.followee_id));
}

/** Every user with more than `count` followers (found through users_followers_count). */
export async function usersAbove(db: Database, count: number): Promise<string[]> {
  const rows = await db.selectFrom('users').select('id').where('followers_count', '>', count).execute();
  return rows.map((row) => row.id);
}
