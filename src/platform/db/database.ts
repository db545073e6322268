import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';

/** The database every store takes: the whole database, or a transaction on it. */
export type Database = Kysely<DB>;

export type DatabaseProfile = 'pglite' | 'postgres';

/** An open database (see `open.ts`), closed with the app. */
export type DatabaseHandle = {
  readonly db: Database;
  readonly profile: DatabaseProfile;
  readonly schema: string;
  /** Resolves when the database answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
};
