import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kysely, PostgresDialect, sql, type LogEvent } from 'kysely';
import type { Config } from '../../config.ts';
import type { DB } from '../../db/schema.ts';
import type { Database, DatabaseHandle, DatabaseProfile } from './database.ts';
import { PGliteDialect } from './pglite-dialect.ts';

export type DatabaseOptions = {
  /** Called after every query; tests use it to count queries per request. */
  onQuery?: (event: LogEvent) => void;
  /**
   * Trouble outside any query (an idle connection losing its server, PGlite's maintenance failing),
   * with what was going on; written to standard error when absent.
   */
  onError?: (error: unknown, context: string) => void;
  /** Where PGlite keeps the fresh cluster it copies into a new data directory (see pglite.ts). */
  pgliteTemplatesDir?: string;
};

type DatabaseConfig = Pick<Config, 'databaseUrl' | 'databaseSchema' | 'databasePoolSize' | 'dataDir'>;

const writeToStderr = (error: unknown, context: string) => console.error(`database: ${context}:`, error);

/** Beside the installed packages, so it goes with them and is made by the user who installed them. */
const PGLITE_TEMPLATES_DIR = fileURLToPath(new URL('../../../node_modules/.cache/plaza/', import.meta.url));

/**
 * PGlite under `dataDir/db` by default; PostgreSQL at `databaseUrl`, in `databaseSchema`, when set.
 * Only the driver in use is loaded: each costs memory and start-up time.
 */
export async function openDatabase(config: DatabaseConfig, options: DatabaseOptions = {}): Promise<DatabaseHandle> {
  const log = options.onQuery;
  const onError = options.onError ?? writeToStderr;
  if (config.databaseUrl === undefined) {
    const { openPGlite } = await import('./pglite.ts');
    const pglite = await openPGlite(join(config.dataDir, 'db'), {
      templatesDir: options.pgliteTemplatesDir ?? PGLITE_TEMPLATES_DIR,
      onError,
    });
    const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite), log });
    const stopMaintenance = maintainPGlite(db, onError);
    return handle(db, 'pglite', 'public', stopMaintenance);
  }

  const schema = config.databaseSchema;
  const { openPool } = await import('./postgres.ts');
  const pool = openPool({ url: config.databaseUrl, schema, size: config.databasePoolSize, onError });
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
 * The first run waits until start-up is done: PGlite runs one statement at a time, so a vacuum
 * started with the server would hold up its migrations check and first requests by a few tenths of
 * a second (the statistics of the last run are on disk meanwhile).
 */
const PGLITE_FIRST_MAINTENANCE_MS = 2_000;

/**
 * PGlite has no autovacuum: without it, planner statistics never appear and dead rows pile up.
 * Do its work at start-up and every ten minutes; it queues behind requests like any query.
 */
function maintainPGlite(db: Database, onError: NonNullable<DatabaseOptions['onError']>): () => void {
  const maintain = () => void sql`vacuum analyze`.execute(db).catch((error: unknown) => onError(error, 'vacuum analyze failed'));
  const first = setTimeout(maintain, PGLITE_FIRST_MAINTENANCE_MS).unref();
  const every = setInterval(maintain, PGLITE_MAINTENANCE_MS).unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}
