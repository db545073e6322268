import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LogEvent } from 'kysely';
import { buildApp, createDeps, type Deps } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createTestDatabase, servicesDatabaseUrl } from './database.ts';
import { servicesForTestApp } from './services.ts';

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
  /**
   * A server restart: closes this app but keeps everything it stored (data directory, database,
   * Redis prefix, bucket) and starts a new app, on a new port, with the same configuration. The new
   * app's `close()` removes it all; this one's does nothing more once restarted.
   */
  restart(): Promise<TestApp>;
};

/**
 * A real app on a real port with its own database: a fresh PGlite directory by default, or — in the
 * services run — a PostgreSQL database, a Redis key prefix and an S3 bucket of its own.
 * Pair it with `after(() => testApp.close())`.
 */
export async function startApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'plaza-test-'));
  const database = servicesDatabaseUrl === undefined ? undefined : await createTestDatabase(servicesDatabaseUrl);
  const services = await servicesForTestApp();
  const config = loadConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    JWT_SECRET: randomBytes(32).toString('hex'),
    // Every test signs its users up from 127.0.0.1.
    SIGNUP_RATE_LIMIT_PER_IP: '100000',
    ...(database !== undefined && { DATABASE_URL: database.url }),
    ...services.env,
    ...env,
  });
  const release = async () => {
    await database?.drop();
    await services.release();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return launch(config, release);
}

/** Builds and starts an app on `config`; `release` removes what it stored, once it is closed for good. */
async function launch(config: Config, release: () => Promise<void>): Promise<TestApp> {
  const queries: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line));
      done();
    },
  });
  const deps = await createDeps(config, { logStream, onQuery: (event: LogEvent) => queries.push(event.query.sql) });
  const app = await buildApp(config, deps);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');

  let closed = false;
  let restarted = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    if (!restarted) await release();
  };
  const restart = async () => {
    if (closed) throw new Error('restart() after close()');
    restarted = true;
    await close();
    return launch(config, release);
  };
  return { app, config, deps, url: `http://127.0.0.1:${address.port}`, logs, queries, close, restart };
}
