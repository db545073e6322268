import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the services run points at, or `undefined` on the embedded profile. */
export const servicesDatabaseUrl = (process.env.DATABASE_URL ?? '') === '' ? undefined : process.env.DATABASE_URL;

/**
 * A database of its own on the services run's PostgreSQL, so test files running side by side never
 * see each other's rows (nor each other's schemas coming and going, which trips Kysely's migrator).
 */
export async function createTestDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `plaza_test_${randomBytes(6).toString('hex')}`;
  await admin(serverUrl, `create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin(serverUrl, `drop database if exists ${name} with (force)`),
  };
}

async function admin(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
