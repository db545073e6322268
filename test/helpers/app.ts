import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LogEvent } from 'kysely';
import { buildApp, createDeps, type Deps } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';

export type TestApp = {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly deps: Deps;
  readonly url: string;
  /** Every log line the app wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Every SQL statement the app ran, in order. */
  readonly queries: string[];
  close(): Promise<void>;
};

/**
 * A real app on a real port with its own database: a fresh PGlite directory by default, or — when
 * DATABASE_URL is set (the services run) — a schema of its own on that server, so test files never
 * see each other's rows. Pair it with `after(() => testApp.close())`.
 */
export async function startApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'plaza-test-'));
  const services = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';
  const config = loadConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    JWT_SECRET: randomBytes(32).toString('hex'),
    ...(services && {
      DATABASE_URL: process.env.DATABASE_URL,
      DATABASE_SCHEMA: `test_${randomBytes(6).toString('hex')}`,
    }),
    ...env,
  });
  const queries: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const deps = await createDeps(config, { onQuery: (event: LogEvent) => queries.push(event.query.sql) });
  const logStream = new (await import('node:stream')).Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line));
      done();
    },
  });
  const app = await buildApp(config, { ...deps, logStream });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    if (services) await dropSchema(config);
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { app, config, deps, url: `http://127.0.0.1:${address.port}`, logs, queries, close };
}

async function dropSchema(config: Config): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: config.databaseUrl });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${config.databaseSchema}" cascade`);
  } finally {
    await client.end();
  }
}
