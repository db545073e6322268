import type { Generated } from 'kysely';

export type UsersTable = {
  id: string;
  handle: string;
  name: string;
  bio: Generated<string>;
  email: string | null;
  password_hash: string | null;
  /** The current profile image's id (its bytes live under avatars/{user}/{avatar_id}/); null without one. */
  avatar_id: Generated<string | null>;
  followers_count: Generated<number>;
  following_count: Generated<number>;
  /** Still counted as popular between the marks of FANOUT_MAX_FOLLOWERS' hysteresis (see social's popular.ts). */
  popular: Generated<boolean>;
  created_at: Date;
  updated_at: Date;
};

/**
 * A user's posts count is the sum of their slots (never below 0): each post adds one to a random
 * slot, so posts by one author rarely wait on each other's row lock (see `countPostQuery`).
 */
export type UserPostCountsTable = { user_id: string; slot: number; n: number };

export type AccountTables = { users: UsersTable; user_post_counts: UserPostCountsTable };
