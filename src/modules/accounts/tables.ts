import type { Generated } from 'kysely';

export type UsersTable = {
  id: string;
  handle: string;
  name: string;
  bio: Generated<string>;
  email: string | null;
  password_hash: string | null;
  followers_count: Generated<number>;
  following_count: Generated<number>;
  posts_count: Generated<number>;
  created_at: Date;
  updated_at: Date;
};

export type AccountTables = { users: UsersTable };
