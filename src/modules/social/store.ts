import { sql } from 'kysely';
import type { Database } from '#platform/db/database.ts';

/** Adds the follow once; both counters move only when the row is new. True when it was new. */
export async function addFollow(db: Database, followerId: string, followeeId: string, at: Date): Promise<boolean> {
  const inserted = await db
    .insertInto('follows')
    .values({ follower_id: followerId, followee_id: followeeId, created_at: at })
    .onConflict((conflict) => conflict.columns(['follower_id', 'followee_id']).doNothing())
    .executeTakeFirst();
  if ((inserted.numInsertedOrUpdatedRows ?? 0n) === 0n) return false;
  await moveCounters(db, followerId, followeeId, 1);
  return true;
}

export async function removeFollow(db: Database, followerId: string, followeeId: string): Promise<boolean> {
  const deleted = await db
    .deleteFrom('follows')
    .where('follower_id', '=', followerId)
    .where('followee_id', '=', followeeId)
    .executeTakeFirst();
  if (deleted.numDeletedRows === 0n) return false;
  await moveCounters(db, followerId, followeeId, -1);
  return true;
}

async function moveCounters(db: Database, followerId: string, followeeId: string, by: 1 | -1): Promise<void> {
  await db.updateTable('users').set({ following_count: sql`following_count + ${by}` }).where('id', '=', followerId).execute();
  await db.updateTable('users').set({ followers_count: sql`followers_count + ${by}` }).where('id', '=', followeeId).execute();
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

/** Everyone following `userId` (for fan-out, which only runs below FANOUT_MAX_FOLLOWERS). */
export async function followerIds(db: Database, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('follows').select('follower_id').where('followee_id', '=', userId).execute();
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

/** Whom the user follows that has more than `threshold` followers (not fanned out: merged at read time). */
export async function popularFollowees(db: Database, followerId: string, threshold: number): Promise<string[]> {
  const rows = await db
    .selectFrom('follows')
    .innerJoin('users', 'users.id', 'follows.followee_id')
    .select('users.id')
    .where('follows.follower_id', '=', followerId)
    .where('users.followers_count', '>', threshold)
    .execute();
  return rows.map((row) => row.id);
}

export async function followerCount(db: Database, userId: string): Promise<number> {
  const row = await db.selectFrom('users').select('followers_count').where('id', '=', userId).executeTakeFirst();
  return row?.followers_count ?? 0;
}
