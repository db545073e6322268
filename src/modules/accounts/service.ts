import { randomInt } from 'node:crypto';
import type { Database } from '#platform/db/database.ts';
import { violatedUniqueConstraint } from '#platform/db/errors.ts';
import { errors } from '#http/errors.ts';
import { newId } from '#db/ids.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { Account, User } from './schemas.ts';
import * as store from './store.ts';
import type { PublicUserRow, UserRow } from './store.ts';

export type NewPasswordAccount = { email: string; password: string; name: string; handle?: string | undefined };
export type ProfileChanges = { name?: string | undefined; bio?: string | undefined; handle?: string | undefined };

const HANDLE_ATTEMPTS = 8;

export type AccountsService = ReturnType<typeof createAccountsService>;

export function createAccountsService(deps: { db: Database; /** Prefix of the links handed out ('' for relative ones). */ publicUrl: string }) {
  const { db } = deps;
  const toUser = (row: PublicUserRow) => userOf(row, deps.publicUrl);
  const toAccount = (row: UserRow) => accountOf(row, deps.publicUrl);

  return {
    /** Creates a password account inside the caller's transaction. The password must already be hashed. */
    async createWithPasswordHash(
      trx: Database,
      input: Omit<NewPasswordAccount, 'password'>,
      passwordHash: string,
    ): Promise<UserRow> {
      const email = input.email.trim();
      if ((await store.findUserByEmail(trx, email)) !== undefined) throw errors.emailTaken();
      const handle = input.handle ?? (await freeHandle(trx, input.name, email));
      if (input.handle !== undefined && (await store.handleExists(trx, handle))) throw errors.handleTaken();
      const now = new Date();
      return insertOrExplain(() =>
        store.insertUser(trx, {
          id: newId(now.getTime()),
          handle,
          name: input.name.trim(),
          email,
          password_hash: passwordHash,
          created_at: now,
          updated_at: now,
        }),
      );
    },

    /** Hashes a password for `createWithPasswordHash` or `setPasswordHash`, outside any transaction. */
    hashPassword,

    /** The account behind an email and password, or `undefined`; takes as long whether or not the email exists. */
    async findByCredentials(email: string, password: string): Promise<UserRow | undefined> {
      const user = await store.findUserByEmail(db, email.trim());
      const valid = await verifyPassword(user?.password_hash ?? null, password);
      return valid ? user : undefined;
    },

    async passwordMatches(userId: string, password: string): Promise<boolean> {
      const user = await store.findUserById(db, userId);
      return verifyPassword(user?.password_hash ?? null, password);
    },

    async setPasswordHash(trx: Database, userId: string, passwordHash: string): Promise<void> {
      await store.updateUser(trx, userId, { password_hash: passwordHash, updated_at: new Date() });
    },

    async getAccount(userId: string): Promise<Account> {
      const user = await store.findUserById(db, userId);
      if (user === undefined) throw errors.unauthorized('This account no longer exists');
      return toAccount(user);
    },

    async getUserByHandle(handle: string): Promise<User> {
      const user = await store.findUserByHandle(db, handle.toLowerCase());
      if (user === undefined) throw errors.notFound('user');
      return toUser(user);
    },

    async updateProfile(userId: string, changes: ProfileChanges): Promise<Account> {
      const user = await insertOrExplain(() =>
        store.updateUser(db, userId, {
          ...(changes.name !== undefined && { name: changes.name.trim() }),
          ...(changes.bio !== undefined && { bio: changes.bio }),
          ...(changes.handle !== undefined && { handle: changes.handle }),
          updated_at: new Date(),
        }),
      );
      if (user === undefined) throw errors.unauthorized('This account no longer exists');
      return toAccount(user);
    },

    /** Points the user at a new profile image (or none); resolves with the one it replaces. */
    async swapAvatar(userId: string, avatarId: string | null): Promise<{ previous: string | null }> {
      const previous = await store.swapAvatar(db, userId, avatarId, new Date());
      if (previous === undefined) throw errors.unauthorized('This account no longer exists');
      return { previous };
    },

    /** The current profile image of the user with this handle, if they have one. */
    async avatarOf(handle: string): Promise<{ userId: string; avatarId: string } | undefined> {
      const user = await store.findUserByHandle(db, handle.toLowerCase());
      return user?.avatar_id == null ? undefined : { userId: user.id, avatarId: user.avatar_id };
    },

    /** These users as the public see them, by id, in one query (absent ids are left out). */
    async usersById(ids: readonly string[]): Promise<Map<string, User>> {
      const rows = await store.findUsersByIds(db, [...new Set(ids)]);
      return new Map(rows.map((row) => [row.id, toUser(row)]));
    },

    /** The id of the user with this handle; 404 when there is none. */
    async userIdOf(handle: string): Promise<string> {
      const user = await store.findUserByHandle(db, handle.toLowerCase());
      if (user === undefined) throw errors.notFound('user');
      return user.id;
    },

    /** User id → current avatar id, for those of `userIds` that exist and have one. */
    async currentAvatarIds(userIds: readonly string[]): Promise<Map<string, string>> {
      return store.avatarIdsOf(db, userIds);
    },

    /** Deletes the account and, through foreign keys, everything it owns, in one statement. */
    async deleteAccount(userId: string, trx: Database = db): Promise<void> {
      await store.deleteUser(trx, userId);
    },

    toUser,
    toAccount,
  };
}

function userOf(row: PublicUserRow, publicUrl: string): User {
  return {
    id: row.id,
    handle: row.handle,
    name: row.name,
    bio: row.bio,
    // The id in the query changes with the image, so the bytes behind one URL never change.
    avatarUrl: row.avatar_id === null ? null : `${publicUrl}/v1/users/${row.handle}/avatar?v=${row.avatar_id}`,
    createdAt: row.created_at.toISOString(),
    counts: { followers: row.followers_count, following: row.following_count, posts: row.posts_count },
  };
}

function accountOf(row: UserRow, publicUrl: string): Account {
  return { ...userOf(row, publicUrl), email: row.email, providers: row.password_hash === null ? [] : ['password'] };
}

/** Runs an insert or update of a user and turns a lost race on a unique column into its 409. */
async function insertOrExplain<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const constraint = violatedUniqueConstraint(error);
    if (constraint === 'users_handle_key') throw errors.handleTaken();
    if (constraint === 'users_email_lower_key') throw errors.emailTaken();
    throw error;
  }
}

/** A free handle derived from the name (or the email's local part), with digits added if needed. */
async function freeHandle(db: Database, name: string, email: string): Promise<string> {
  const fromName = slug(name);
  const base = fromName.length >= 3 ? fromName : slug(email.split('@', 1)[0] ?? '');
  const stem = (base.length >= 3 ? base : `user${base}`).slice(0, 24);
  for (let attempt = 0; attempt < HANDLE_ATTEMPTS; attempt++) {
    const candidate = attempt === 0 ? stem : `${stem}_${randomInt(10 ** (attempt + 1))}`;
    if (!(await store.handleExists(db, candidate))) return candidate;
  }
  return `${stem.slice(0, 17)}_${newId().slice(-12).toLowerCase()}`;
}

function slug(text: string): string {
  return text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}
