import { sql } from 'kysely';
import { Migrator, type MigrationResult } from 'kysely/migration';
import { migrations } from '../../db/migrations/index.ts';
import type { DatabaseHandle } from './database.ts';

export class MigrationError extends Error {
  constructor(migration: string, cause: unknown) {
    super(`Migration ${migration} failed`, { cause });
    this.name = 'MigrationError';
  }
}

/** Kysely's table of applied migrations. */
const MIGRATION_TABLE = 'kysely_migration';

/** Applies every migration not applied yet, in order. Safe to run from several processes at once. */
export async function migrateToLatest(database: DatabaseHandle): Promise<MigrationResult[]> {
  if (await isUpToDate(database)) return [];
  const migrator = new Migrator({
    db: database.db,
    provider: { getMigrations: async () => migrations },
    migrationTableSchema: database.schema,
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error')?.migrationName ?? 'unknown';
    throw new MigrationError(failed, error);
  }
  return results;
}

/**
 * Whether every migration is applied already, as at nearly every start: two small reads instead of
 * the Migrator's catalog introspection and lock, a tenth of a second of PGlite's start-up. Anything
 * missing, and the Migrator decides (under its lock) what to apply.
 */
async function isUpToDate({ db, schema }: DatabaseHandle): Promise<boolean> {
  const { rows: [found] } = await sql<{ present: boolean }>`select to_regclass(${`"${schema}"."${MIGRATION_TABLE}"`}) is not null as present`.execute(db);
  if (!found?.present) return false;
  const { rows } = await sql<{ name: string }>`select name from ${sql.table(`${schema}.${MIGRATION_TABLE}`)}`.execute(db);
  const applied = new Set(rows.map((row) => row.name));
  return Object.keys(migrations).every((name) => applied.has(name));
}
