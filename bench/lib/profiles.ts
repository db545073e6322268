import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { withCleanup } from './cleanup.ts';

export type ProfileKind = 'embedded' | 'postgres';

/** A fresh, empty database of one kind, and the environment that points Plaza and baselines at it. */
export type Profile = {
  kind: ProfileKind;
  title: string;
  env: Record<string, string>;
  /** Runs SQL statements one by one on the profile's database; on PGlite, only while no server has it open. */
  runSql(statements: readonly string[]): Promise<void>;
};

/** Why a profile was not run. */
export type Skipped = { title: string; skipped: string };

const TITLES: Record<ProfileKind, string> = { embedded: 'embedded (PGlite)', postgres: 'PostgreSQL' };
const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const CONNECT_TIMEOUT_MS = 3_000;
/** Plaza's default pool size, given to both sides so they hold the same number of connections. */
const POOL_SIZE = '10';

/** Runs `body` on a fresh database of this kind and deletes it afterwards, or says why it cannot. */
export async function withProfile<T>(kind: ProfileKind, body: (profile: Profile) => Promise<T>): Promise<T | Skipped> {
  const dataDir = await mkdtemp(join(tmpdir(), 'plaza-bench-'));
  // Every process of a run shares the secret, so tokens made while seeding stay valid after restarts.
  const env = { DATA_DIR: dataDir, JWT_SECRET: randomBytes(48).toString('base64url') };
  return withCleanup(
    () => rm(dataDir, { recursive: true, force: true }),
    () =>
      kind === 'embedded'
        ? body({ kind, title: TITLES.embedded, env, runSql: runOnPGlite(dataDir) })
        : withPostgres(env, body),
  );
}

/** A fresh schema on the server named by BENCH_DATABASE_URL, DATABASE_URL or the local default. */
async function withPostgres<T>(
  baseEnv: Record<string, string>,
  body: (profile: Profile) => Promise<T>,
): Promise<T | Skipped> {
  const url = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? DEFAULT_POSTGRES_URL;
  let version: string;
  try {
    version = await serverVersion(url);
  } catch (error) {
    return { title: TITLES.postgres, skipped: `cannot connect to ${describe(url)}: ${reason(error)}` };
  }
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  console.log(`PostgreSQL ${version} at ${describe(url)}, schema ${schema}`);
  const env = { ...baseEnv, DATABASE_URL: url, DATABASE_SCHEMA: schema, DATABASE_POOL_SIZE: POOL_SIZE };
  return withCleanup(
    () => dropSchema(url, schema),
    () => body({ kind: 'postgres', title: `${TITLES.postgres} ${version}`, env, runSql: runOnPostgres(url, schema) }),
  );
}

/**
 * A fresh schema beside a PostgreSQL profile's own (dropped afterwards), as a profile: for a suite
 * that seeds users of its own whatever the suites before it wrote.
 */
export async function withSchemaOfItsOwn<T>(profile: Profile, name: string, body: (profile: Profile) => Promise<T>): Promise<T> {
  const url = profile.env.DATABASE_URL;
  if (profile.kind !== 'postgres' || url === undefined) throw new Error('a schema of its own needs the PostgreSQL profile');
  const schema = `${profile.env.DATABASE_SCHEMA!}_${name}`;
  return withCleanup(
    () => dropSchema(url, schema),
    () => body({ ...profile, env: { ...profile.env, DATABASE_SCHEMA: schema }, runSql: runOnPostgres(url, schema) }),
  );
}

/** Plaza keeps its PGlite files under DATA_DIR/db. */
function runOnPGlite(dataDir: string): Profile['runSql'] {
  return async (statements) => {
    const pglite = await PGlite.create({ dataDir: join(dataDir, 'db') });
    try {
      for (const statement of statements) await pglite.exec(statement);
    } finally {
      await pglite.close();
    }
  };
}

function runOnPostgres(url: string, schema: string): Profile['runSql'] {
  return async (statements) => {
    const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await client.connect();
    try {
      for (const statement of statements) await client.query(statement);
    } finally {
      await client.end();
    }
  };
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    return rows[0]?.server_version.split(' ')[0] ?? 'unknown';
  } finally {
    await client.end().catch(() => {});
  }
}

/** Connection failures to `localhost` come as an AggregateError with an empty message. */
function reason(error: unknown): string {
  const { message, code } = error as { message?: string; code?: string };
  return message || code || String(error);
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

/** Host, port and database, never the password. */
function describe(url: string): string {
  const parsed = new URL(url);
  return `${parsed.host}${parsed.pathname}`;
}
