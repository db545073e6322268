import { randomInt } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import { violatedUniqueConstraint } from '#platform/db/errors.ts';
import { errors } from '#http/errors.ts';
import { newId } from '#db/ids.ts';
import type { PasswordHasher } from './passwords.ts';
import type { Account, User } from './schemas.ts';
import * as store from './store.ts';
import type { AccountRow, PublicUserRow, UserIds } from './store.ts';
import type { UsersTable } from './tables.ts';

/** The columns a public `User` is made of, as a query reading `users` in a join selects them (see `toUser`). */
export type { PublicUserRow };
/** The statement `countPost` builds, for a store to run or compose into its own. */
export type PostCountQuery = ReturnType<typeof store.countPostQuery>;
/**
 * A user's posts count as a scalar subquery over their id (a column of the caller's query): for
 * another module's query that reads users in a join (posts' pages read authors with their posts),
 * so it need not know how the count is kept.
 */
export const postsCountOf = store.postsCountOf;
export type { FolloweeCount } from './store.ts';

export type NewPasswordAccount = { email: string; password: string; name: string; handle?: string | undefined };
export type ProfileChanges = { name?: string | undefined; bio?: string | undefined; handle?: string | undefined };

/** The longest handle `Handle` allows. */
const HANDLE_MAX_LENGTH = 30;
/** Random digits tried after a taken generated handle, at most. */
const HANDLE_MAX_DIGITS = 8;

export type AccountsService = ReturnType<typeof createAccountsService>;

export function createAccountsService(deps: {
  db: Database;
  /** Prefix of the links handed out ('' for relative ones). */
  publicUrl: string;
  passwords: PasswordHasher;
}) {
  const { db, passwords } = deps;
  const toUser = (row: PublicUserRow) => userOf(row, deps.publicUrl);
  const toAccount = (row: AccountRow) => accountOf(row, deps.publicUrl);

  return {
    /** Creates a password account inside the caller's transaction. The password must already be hashed. */
    async createWithPasswordHash(
      trx: Database,
      input: Omit<NewPasswordAccount, 'password'>,
      passwordHash: string,
    ): Promise<Account> {
      const email = input.email.trim();
      if ((await store.findUserByEmail(trx, email)) !== undefined) throw errors.emailTaken();
      const now = new Date();
      const row = {
        id: newId(now.getTime()),
        name: input.name.trim(),
        email,
        password_hash: passwordHash,
        created_at: now,
        updated_at: now,
      };
      if (input.handle === undefined) return toAccount(await insertWithFreeHandle(trx, row, handleCandidates(input.name, email)));
      const { handle } = input;
      if (await store.handleExists(trx, handle)) throw errors.handleTaken();
      return toAccount(await insertOrExplain(() => store.insertUser(trx, { ...row, handle })));
    },

    /**
     * Creates an account without a password (a first social sign-in) inside the caller's
     * transaction, under a handle made from the name; `email` only when the provider verified it.
     * A taken email is `409 email_taken`.
     */
    async createWithoutPassword(trx: Database, input: { name: string; email: string | null }): Promise<Account> {
      if (input.email !== null && (await store.findUserByEmail(trx, input.email)) !== undefined) throw errors.emailTaken();
      const now = new Date();
      const row = { id: newId(now.getTime()), name: input.name, email: input.email, password_hash: null, created_at: now, updated_at: now };
      return toAccount(await insertWithFreeHandle(trx, row, handleCandidates(input.name, input.email ?? '')));
    },

    /** Whether an account holds this email (whatever its case). */
    async emailInUse(email: string): Promise<boolean> {
      return (await store.findUserByEmail(db, email.trim())) !== undefined;
    },

    /** Whether the user can sign in with a password (read in `trx` when given: under `lockUser`, say). */
    async hasPassword(userId: string, trx: Database = db): Promise<boolean> {
      const user = await store.findUserById(trx, userId);
      return user?.password_hash != null;
    },

    /** Hashes a password for `createWithPasswordHash` or `setPasswordHash`, outside any transaction. */
    hashPassword: passwords.hash,

    /** The account behind an email and password, or `undefined`; takes as long whether or not the email exists. */
    async findByCredentials(email: string, password: string): Promise<Account | undefined> {
      const user = await store.findUserByEmail(db, email.trim());
      const valid = await passwords.verify(user?.password_hash ?? null, password);
      return valid && user !== undefined ? toAccount(user) : undefined;
    },

    async passwordMatches(userId: string, password: string): Promise<boolean> {
      const user = await store.findUserById(db, userId);
      return passwords.verify(user?.password_hash ?? null, password);
    },

    async setPasswordHash(trx: Database, userId: string, passwordHash: string): Promise<void> {
      await store.updateUser(trx, userId, { password_hash: passwordHash, updated_at: new Date() });
    },

    /**
     * Gives a social-only account its first password; false when it has one already (a concurrent
     * request set it: changing it then takes the current one). Only an account with an email may
     * have one (`409 email_required`), since login pairs the two: so a password always counts as a
     * way to sign in, and unlinking the last provider of an account with one never locks it out.
     */
    async setFirstPasswordHash(trx: Database, userId: string, passwordHash: string): Promise<boolean> {
      const user = await store.findUserById(trx, userId);
      if (user === undefined) throw errors.invalidAccessToken('This account no longer exists');
      if (user.email === null) throw errors.emailRequired();
      return store.setFirstPasswordHash(trx, userId, passwordHash, new Date());
    },

    async getAccount(userId: string): Promise<Account> {
      const user = await store.findUserById(db, userId);
      if (user === undefined) throw errors.invalidAccessToken('This account no longer exists');
      return toAccount(user);
    },

    /** Whether anyone has signed up (`plaza demo` fills only an empty database). */
    async hasUsers(): Promise<boolean> {
      return store.anyUserExists(db);
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
      if (user === undefined) throw errors.invalidAccessToken('This account no longer exists');
      return toAccount(user);
    },

    /** Points the user at a new profile image (or none); resolves with the one it replaces. */
    async swapAvatar(userId: string, avatarId: string | null): Promise<{ previous: string | null }> {
      const previous = await store.swapAvatar(db, userId, avatarId, new Date());
      if (previous === undefined) throw errors.invalidAccessToken('This account no longer exists');
      return { previous };
    },

    /** The current profile image of the user with this handle, if they have one; `handle` as stored. */
    async avatarOf(handle: string): Promise<{ userId: string; handle: string; avatarId: string } | undefined> {
      const user = await store.findUserByHandle(db, handle.toLowerCase());
      return user?.avatar_id == null ? undefined : { userId: user.id, handle: user.handle, avatarId: user.avatar_id };
    },

    /** The user whose current profile image `avatarId` is; undefined once it is replaced, removed or its user gone. */
    async avatarOwner(avatarId: string): Promise<{ userId: string } | undefined> {
      const user = await store.findUserByAvatarId(db, avatarId);
      return user === undefined ? undefined : { userId: user.id };
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

    /**
     * Locks the user's row until `trx` ends, for another module that must serialise its writes per
     * user (the media quota check); false when the account no longer exists.
     */
    lockUser: (trx: Database, userId: string): Promise<boolean> => store.lockUser(trx, userId),

    /**
     * The statement, not yet run, that moves the user's posts count (one more, or one fewer): posts
     * runs it in its transaction, or composes it into the single statement that publishes a post.
     */
    countPost: (userId: string, by: 1 | -1): PostCountQuery => store.countPostQuery(userId, by),

    /** In the caller's transaction, with a follow made or undone: see `store.moveFollowCounts`. */
    moveFollowCounts: (trx: Database, follow: Parameters<typeof store.moveFollowCounts>[1]) => store.moveFollowCounts(trx, follow),

    /** In the deleting transaction: a leaving user's follows leave the others' counters (see `store.dropFollowCounts`). */
    dropFollowCounts: (trx: Database, follows: { followeeIds: UserIds; followerIds: UserIds }) => store.dropFollowCounts(trx, follows),

    /** Users with more than `above` followers or still marked popular: see `store.popularUsers`. */
    popularUserIds: (above: number) => store.popularUsers(db, above),

    /** At start-up, in the caller's transaction: see `store.remarkPopular`. */
    remarkPopular: (trx: Database, marks: { above: number; below: number }) => store.remarkPopular(trx, marks),

    /** In a follow's transaction, once `moveFollowCounts` has locked the user's row. */
    setPopular: (trx: Database, userId: string, popular: boolean) => store.setPopular(trx, userId, popular),

    /** Deletes the account and, through foreign keys, everything it owns, in one statement. */
    async deleteAccount(userId: string, trx: Database = db): Promise<void> {
      await store.deleteUser(trx, userId);
    },

    toUser,
  };
}

function userOf(row: PublicUserRow, publicUrl: string): User {
  return {
    id: row.id,
    handle: row.handle,
    name: row.name,
    bio: row.bio,
    // Keyed by the image id alone: a new image gets a new URL, and a handle change keeps it.
    avatarUrl: row.avatar_id === null ? null : `${publicUrl}/v1/avatars/${row.avatar_id}`,
    createdAt: row.created_at.toISOString(),
    counts: { followers: row.followers_count, following: row.following_count, posts: row.posts_count },
  };
}

/** `providers`: `password` when one is set, then the linked social providers. */
function accountOf(row: AccountRow, publicUrl: string): Account {
  const providers = [...(row.password_hash === null ? [] : ['password']), ...row.linked_providers];
  return { ...userOf(row, publicUrl), email: row.email, providers };
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

/**
 * Inserts a user who did not choose a handle under the first free one of `candidates`. A signup
 * racing this one may take a candidate between the check and the insert; the next one is tried
 * then, so such a user never hears `handle_taken`.
 */
async function insertWithFreeHandle(trx: Database, row: Omit<Insertable<UsersTable>, 'handle'>, candidates: Iterable<string>): Promise<AccountRow> {
  for (const handle of candidates) {
    if (await store.handleExists(trx, handle)) continue;
    const user = await insertOrExplain(() => store.insertUserUnlessHandleTaken(trx, { ...row, handle }));
    if (user !== undefined) return user;
  }
  throw new Error('accounts: every generated handle was taken');
}

/**
 * Handles made from the name (or the email's local part): the plain one, then with ever longer
 * random digits, then with part of a fresh id, which no one else can hold; none longer than `Handle` allows.
 */
function* handleCandidates(name: string, email: string): Generator<string> {
  const fromName = slug(name);
  const base = fromName.length >= 3 ? fromName : slug(email.split('@', 1)[0] ?? '');
  const stem = (base.length >= 3 ? base : `user${base}`).slice(0, 24);
  const beside = (suffix: string) => `${stem.slice(0, HANDLE_MAX_LENGTH - 1 - suffix.length)}_${suffix}`;
  yield stem;
  for (let digits = 2; digits <= HANDLE_MAX_DIGITS; digits++) yield beside(String(randomInt(10 ** digits)));
  for (let attempt = 0; attempt < 3; attempt++) yield beside(newId().slice(-12).toLowerCase());
}

function slug(text: string): string {
  return text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}
