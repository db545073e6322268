import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { LogEvent } from 'kysely';
import { buildApp, createDeps, type Deps } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createTestDatabase, servicesDatabaseUrl } from './database.ts';
import { client, type Client } from './http.ts';
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
    // Tests sign up a hundred users at once; past the queue (default 64) hashing answers 429.
    PASSWORD_HASH_QUEUE: '100000',
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

/** The app a test file shares, and a client for it. */
export type SharedApp = { readonly testApp: TestApp; readonly api: Client };

/**
 * Starts an app before the first test of the file (or of the `describe` this is called in) and closes
 * it after the last. `api` waits for the start, so other `before` hooks may use it (node:test runs a
 * file's top-level hooks side by side); `testApp` is there once it has started, in tests.
 */
export function appPerFile(env: Record<string, string> = {}): SharedApp {
  let starting: Promise<TestApp> | undefined;
  let started: TestApp | undefined;
  before(async () => {
    starting = startApp(env);
    started = await starting;
  });
  after(() => started?.close());
  const notYet = 'the app starts in a before hook: use it in hooks and tests';
  return {
    get testApp() {
      return started ?? assert.fail(notYet);
    },
    api: client(async () => (await (starting ?? assert.fail(notYet))).url),
  };
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
