import { sql, type Expression, type Insertable, type OperandValueExpressionOrList, type RawBuilder, type Selectable, type Updateable } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import type { DB } from '#db/schema.ts';
import type { UsersTable } from './tables.ts';

/** A user's row, with their posts count (the sum of their slots in `user_post_counts`). */
export type UserRow = Selectable<UsersTable> & { posts_count: number };

/** What anyone may see of a user: everything but the account's private columns, and the posts count. */
const PUBLIC_USER_COLUMNS = [
  'id', 'handle', 'name', 'bio', 'avatar_id', 'created_at', 'followers_count', 'following_count',
] as const satisfies readonly (keyof UserRow)[];

export type PublicUserRow = Pick<UserRow, (typeof PUBLIC_USER_COLUMNS)[number] | 'posts_count'>;

/** Slots of a user's posts count: posts by one author wait on each other's lock one time in this many. */
const POST_COUNT_SLOTS = 16;

/** The posts count of the user whose id `userId` is (a column of the query), as a scalar subquery. */
export function postsCountOf(userId: Expression<string>): RawBuilder<number> {
  return sql<number>`(select greatest(coalesce(sum(c.n), 0), 0)::int from user_post_counts c where c.user_id = ${userId})`;
}

const postsCount = postsCountOf(sql.ref('users.id')).as('posts_count');
/** A user just inserted has written nothing yet. */
const noPosts = sql<number>`0`.as('posts_count');

/**
 * A user's row as their own `Account` shows it: with the social providers they sign in with, read
 * (only read: auth's social store alone writes it) from auth's `identities` table.
 */
export type AccountRow = UserRow & { linked_providers: string[] };

const linkedProviders = sql<string[]>`array(select i.provider from identities i where i.user_id = users.id order by i.provider)`.as('linked_providers');
/** A user just inserted has linked nothing yet. */
const noLinkedProviders = sql<string[]>`'{}'::text[]`.as('linked_providers');

/** Users' ids, as a list or a one-column subquery. */
export type UserIds = OperandValueExpressionOrList<DB, 'users', 'id'>;

export async function insertUser(db: Database, user: Insertable<UsersTable>): Promise<AccountRow> {
  return db.insertInto('users').values(user).returningAll().returning([noPosts, noLinkedProviders]).executeTakeFirstOrThrow();
}

/**
 * Inserts the user unless their handle is taken (by a committed row, or by a racing insert once that
 * commits): then nothing is inserted and the result is undefined. Any other conflict still throws,
 * and the transaction stays usable either way.
 */
export async function insertUserUnlessHandleTaken(db: Database, user: Insertable<UsersTable>): Promise<AccountRow | undefined> {
  return db
    .insertInto('users')
    .values(user)
    .onConflict((conflict) => conflict.constraint('users_handle_key').doNothing())
    .returningAll()
    .returning([noPosts, noLinkedProviders])
    .executeTakeFirst();
}

export async function findUserById(db: Database, id: string): Promise<AccountRow | undefined> {
  return db.selectFrom('users').selectAll().select([postsCount, linkedProviders]).where('id', '=', id).executeTakeFirst();
}

export async function findUserByHandle(db: Database, handle: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().select(postsCount).where('handle', '=', handle).executeTakeFirst();
}

export async function findUserByEmail(db: Database, email: string): Promise<AccountRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .select([postsCount, linkedProviders])
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
}

export async function handleExists(db: Database, handle: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('handle', '=', handle).executeTakeFirst();
  return row !== undefined;
}

export async function anyUserExists(db: Database): Promise<boolean> {
  return (await db.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
}

export async function updateUser(
  db: Database,
  id: string,
  changes: Updateable<UsersTable>,
): Promise<AccountRow | undefined> {
  return db.updateTable('users').set(changes).where('id', '=', id).returningAll().returning([postsCount, linkedProviders]).executeTakeFirst();
}

/** Sets a password on an account that has none; false when it has one (set meanwhile) or is gone. */
export async function setFirstPasswordHash(db: Database, id: string, passwordHash: string, at: Date): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ password_hash: passwordHash, updated_at: at })
    .where('id', '=', id)
    .where('password_hash', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Holds the user's row until the caller's transaction ends, so another module's writes about this
 * user (an upload's quota check, say) happen one at a time. False when there is no such user.
 */
export async function lockUser(trx: Database, userId: string): Promise<boolean> {
  const row = await trx.selectFrom('users').select('id').where('id', '=', userId).forUpdate().executeTakeFirst();
  return row !== undefined;
}

/**
 * The statement, not yet run, that counts one more post of the user's (or one fewer) in a random
 * slot: run it, or compose it into a larger statement. Its lock on the slot's row lasts until the
 * transaction ends, so posts by one author wait on each other only when they pick the same slot.
 */
export function countPostQuery(userId: string, by: 1 | -1): RawBuilder<unknown> {
  const slot = Math.floor(Math.random() * POST_COUNT_SLOTS);
  return sql`
    insert into user_post_counts (user_id, slot, n) values (${userId}, ${slot}, ${by})
    on conflict (user_id, slot) do update set n = user_post_counts.n + excluded.n`;
}

/** A followee's counter and popular mark, right after a follow moved them. */
export type FolloweeCount = { followers: number; popular: boolean };

/**
 * Moves the counters of a follow made (`by` 1) or undone (-1): the follower's following and the
 * followee's followers, locking the two rows in id order so crossing follows cannot deadlock. With
 * `maxFollowing`, a follower already following that many is left alone and the answer is undefined:
 * the caller's transaction must then not commit. Otherwise answers the followee's new follower count
 * and popular mark, read under the row lock the update took (so exact until the transaction ends).
 */
export async function moveFollowCounts(
  trx: Database,
  follow: { followerId: string; followeeId: string; by: 1 | -1; maxFollowing?: number | undefined },
): Promise<FolloweeCount | undefined> {
  const { followerId, followeeId, by, maxFollowing } = follow;
  const moveFollowing = async () => {
    let update = trx.updateTable('users').set({ following_count: sql`following_count + ${by}` }).where('id', '=', followerId);
    // Under the row lock the update takes: concurrent follows by one user are counted one at a time.
    if (maxFollowing !== undefined) update = update.where('following_count', '<', maxFollowing);
    const moved = await update.executeTakeFirst();
    return moved.numUpdatedRows > 0n;
  };
  const moveFollowers = async () => {
    const followee = await trx
      .updateTable('users')
      .set({ followers_count: sql`followers_count + ${by}` })
      .where('id', '=', followeeId)
      .returning(['followers_count', 'popular'])
      .executeTakeFirstOrThrow();
    return { followers: followee.followers_count, popular: followee.popular };
  };
  if (followerId < followeeId) {
    if (!(await moveFollowing())) return undefined;
    return moveFollowers();
  }
  const followers = await moveFollowers();
  return (await moveFollowing()) ? followers : undefined;
}

/**
 * Takes one follower off each of `followeeIds` and one followee off each of `followerIds` (a leaving
 * user's follows). Answers each followee's new count and popular mark, read under the row lock the
 * update took, as `moveFollowCounts` does.
 */
export async function dropFollowCounts(
  trx: Database,
  follows: { followeeIds: UserIds; followerIds: UserIds },
): Promise<Map<string, FolloweeCount>> {
  const followees = await trx
    .updateTable('users')
    .set({ followers_count: sql`followers_count - 1` })
    .where('id', 'in', follows.followeeIds)
    .returning(['id', 'followers_count', 'popular'])
    .execute();
  await trx.updateTable('users').set({ following_count: sql`following_count - 1` }).where('id', 'in', follows.followerIds).execute();
  return new Map(followees.map((row) => [row.id, { followers: row.followers_count, popular: row.popular }]));
}

/**
 * The popular users: more than `above` followers, or still marked popular (found through
 * users_followers_count and users_popular).
 */
export async function popularUsers(db: Database, above: number): Promise<string[]> {
  const rows = await db
    .selectFrom('users')
    .select('id')
    .where((eb) => eb.or([eb('followers_count', '>', above), eb('popular', '=', true)]))
    .execute();
  return rows.map((row) => row.id);
}

/**
 * Brings every mark in line with the marks given (at start-up, as FANOUT_MAX_FOLLOWERS may have
 * changed, and users counted before the mark existed were never marked): marks those with more than
 * `above` followers, and unmarks those marked with fewer than `below`. Answers whom it unmarked.
 */
export async function remarkPopular(trx: Database, marks: { above: number; below: number }): Promise<{ marked: number; unmarked: string[] }> {
  const marked = await trx.updateTable('users').set({ popular: true }).where('followers_count', '>', marks.above).where('popular', '=', false).executeTakeFirst();
  const unmarked = await trx
    .updateTable('users')
    .set({ popular: false })
    .where('popular', '=', true)
    .where('followers_count', '<', marks.below)
    .returning('id')
    .execute();
  return { marked: Number(marked.numUpdatedRows), unmarked: unmarked.map((row) => row.id) };
}

/** Marks or unmarks a user as popular (in the follow's transaction, under its row lock). */
export async function setPopular(db: Database, userId: string, popular: boolean): Promise<void> {
  await db.updateTable('users').set({ popular }).where('id', '=', userId).execute();
}

export async function deleteUser(db: Database, id: string): Promise<boolean> {
  const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Sets the user's avatar id under a row lock and returns the previous one (undefined: no such user). */
export async function swapAvatar(
  db: Database,
  userId: string,
  avatarId: string | null,
  at: Date,
): Promise<string | null | undefined> {
  return db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('users').select('avatar_id').where('id', '=', userId).forUpdate().executeTakeFirst();
    if (user === undefined) return undefined;
    await trx.updateTable('users').set({ avatar_id: avatarId, updated_at: at }).where('id', '=', userId).execute();
    return user.avatar_id;
  });
}

/** The user whose current profile image this is, if anyone's. */
export async function findUserByAvatarId(db: Database, avatarId: string): Promise<Pick<UserRow, 'id'> | undefined> {
  return db.selectFrom('users').select('id').where('avatar_id', '=', avatarId).executeTakeFirst();
}

export async function avatarIdsOf(db: Database, userIds: readonly string[]): Promise<Map<string, string>> {
  if (userIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('users')
    .select(['id', 'avatar_id'])
    .where('id', 'in', userIds)
    .where('avatar_id', 'is not', null)
    .execute();
  return new Map(rows.map((row) => [row.id, row.avatar_id as string]));
}

export async function findUsersByIds(db: Database, ids: readonly string[]): Promise<PublicUserRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('users').select(PUBLIC_USER_COLUMNS).select(postsCount).where('id', 'in', ids).execute();
}
