import type { Config } from '../config.ts';
import { migrateToLatest } from '../platform/db/migrate.ts';
import { openDatabase } from '../platform/db/open.ts';

/** `plaza migrate`: applies pending migrations, says which, and exits. */
export async function migrate(config: Config): Promise<void> {
  const database = await openDatabase(config);
  try {
    const results = await migrateToLatest(database);
    for (const result of results) console.log(`${result.status.toLowerCase()}: ${result.migrationName}`);
    console.log(results.length === 0 ? 'The database is up to date.' : `Applied ${results.length} migration(s).`);
  } finally {
    await database.close();
  }
}
