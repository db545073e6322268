import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql, type LogEvent } from 'kysely';
import pg from 'pg';
import type { Config } from '../../config.ts';
import type { DB } from '../../db/schema.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import { prepareStatements } from './prepared-statements.ts';

/** The database every store takes: the whole database, or a transaction on it. */
export type Database = Kysely<DB>;

export type DatabaseProfile = 'pglite' | 'postgres';

export type DatabaseHandle = {
  readonly db: Database;
  readonly profile: DatabaseProfile;
  readonly schema: string;
  /** Resolves when the database answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
};

export type DatabaseOptions = {
  /** Called after every query; tests use it to count queries per request. */
  onQuery?: (event: LogEvent) => void;
};

type DatabaseConfig = Pick<Config, 'databaseUrl' | 'databaseSchema' | 'databasePoolSize' | 'dataDir'>;

export async function openDatabase(config: DatabaseConfig, options: DatabaseOptions = {}): Promise<DatabaseHandle> {
  const log = options.onQuery;
  if (config.databaseUrl === undefined) {
    const dataDir = join(config.dataDir, 'db');
    mkdirSync(dataDir, { recursive: true });
    const pglite = await PGlite.create({ dataDir });
    const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite), log });
    const stopMaintenance = maintainPGlite(db);
    return handle(db, 'pglite', 'public', stopMaintenance);
  }

  const schema = config.databaseSchema;
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.databasePoolSize,
    options: `-c search_path=${schema}`,
  });
  // An idle client losing its server (restart, failover) must not crash the process.
  pool.on('error', () => {});
  prepareStatements(pool);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), log });
  try {
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return handle(db, 'postgres', schema);
}

function handle(db: Database, profile: DatabaseProfile, schema: string, beforeClose = () => {}): DatabaseHandle {
  return {
    db,
    profile,
    schema,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      beforeClose();
      await db.destroy();
    },
  };
}

const PGLITE_MAINTENANCE_MS = 10 * 60_000;

/**
 * PGlite has no autovacuum: without it, planner statistics never appear and dead rows pile up.
 * Do its work at start-up and every ten minutes; it queues behind requests like any query.
 */
function maintainPGlite(db: Database): () => void {
  const maintain = () => void sql`vacuum analyze`.execute(db).catch(() => {});
  const first = setTimeout(maintain, 0).unref();
  const every = setInterval(maintain, PGLITE_MAINTENANCE_MS).unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
