import { Migrator, type MigrationResult } from 'kysely/migration';
import { migrations } from '../../db/migrations/index.ts';
import type { DatabaseHandle } from './database.ts';

export class MigrationError extends Error {
  constructor(migration: string, cause: unknown) {
    super(`Migration ${migration} failed`, { cause });
    this.name = 'MigrationError';
  }
}

/** Applies every migration not applied yet, in order. Safe to run from several processes at once. */
export async function migrateToLatest(database: DatabaseHandle): Promise<MigrationResult[]> {
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
