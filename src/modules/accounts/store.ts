import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import type { UsersTable } from './tables.ts';

export type UserRow = Selectable<UsersTable>;

/** What anyone may see of a user: everything but the account's private columns. */
export type PublicUserRow = Omit<UserRow, 'email' | 'password_hash' | 'updated_at'>;

export async function insertUser(db: Database, user: Insertable<UsersTable>): Promise<UserRow> {
  return db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
}

export async function findUserById(db: Database, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findUserByHandle(db: Database, handle: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('handle', '=', handle).executeTakeFirst();
}

export async function findUserByEmail(db: Database, email: string): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
}

export async function handleExists(db: Database, handle: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('handle', '=', handle).executeTakeFirst();
  return row !== undefined;
}

export async function updateUser(
  db: Database,
  id: string,
  changes: Updateable<UsersTable>,
): Promise<UserRow | undefined> {
  return db.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
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

export async function findUsersByIds(db: Database, ids: readonly string[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('users').selectAll().where('id', 'in', ids).execute();
}
