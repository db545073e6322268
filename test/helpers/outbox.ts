import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { loadConfig, type Config } from '../../src/config.ts';
import type { DatabaseHandle } from '../../src/platform/db/database.ts';
import { migrateToLatest } from '../../src/platform/db/migrate.ts';
import { openDatabase } from '../../src/platform/db/open.ts';
import { openOutbox } from '../../src/platform/outbox/open.ts';
import type { Outbox } from '../../src/platform/outbox/types.ts';
import { createTestDatabase, servicesDatabaseUrl } from './database.ts';

/** The outbox and its relay run on PGlite, or on PostgreSQL in the services run. */
export const outboxProfile = servicesDatabaseUrl === undefined ? 'pglite' : 'postgres';
/** Long enough that only a wake-up (in process, or NOTIFY) can explain a prompt delivery. */
export const NO_POLL_MS = 60_000;

export type Logged = { level: 'warn' | 'error'; details: object; message: string };

export type OutboxSetup = {
  readonly config: Config;
  /** The file's database, migrated. */
  readonly database: DatabaseHandle;
  /** What the outboxes opened here logged. */
  readonly logged: Logged[];
  /** An outbox on `on` (the file's database by default), closed after the file. */
  outboxOn(on?: DatabaseHandle, pollMs?: number): Promise<Outbox>;
  /** What another instance opens: its own connections to the same database, closed after the file. */
  anotherDatabase(): Promise<DatabaseHandle>;
  /** The outbox rows of a topic, in id order. */
  rowsOf(topic: string): ReturnType<typeof selectRows>;
};

const selectRows = (database: DatabaseHandle, topic: string) =>
  database.db.selectFrom('outbox_events').selectAll().where('topic', '=', topic).orderBy('id').execute();

/**
 * Registers, in the calling suite, hooks that open a migrated database of the file's own (a fresh
 * PostgreSQL database in the services run) and close everything opened on it afterwards. Its parts
 * are there once the suite's `before` hooks have run.
 */
export function useOutboxSetup(name: string): OutboxSetup {
  const dataDir = mkdtempSync(join(tmpdir(), `plaza-${name}-`));
  let testDatabase: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let config: Config | undefined;
  let database: DatabaseHandle | undefined;
  const opened: { close(): Promise<void> }[] = [];
  const logged: Logged[] = [];
  const logger = {
    warn: (details: object, message: string) => void logged.push({ level: 'warn', details, message }),
    error: (details: object, message: string) => void logged.push({ level: 'error', details, message }),
  };

  before(async () => {
    if (servicesDatabaseUrl !== undefined) testDatabase = await createTestDatabase(servicesDatabaseUrl);
    config = loadConfig({ DATA_DIR: dataDir, JWT_SECRET: 'x'.repeat(32), ...(testDatabase !== undefined && { DATABASE_URL: testDatabase.url }) });
    database = await openDatabase(config);
    await migrateToLatest(database);
  });
  after(async () => {
    for (const each of opened.reverse()) await each.close();
    await database?.close();
    await testDatabase?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const ready = <T>(part: T | undefined): T => {
    if (part === undefined) throw new Error('the outbox setup is used before its before hook ran');
    return part;
  };

  return {
    get config() {
      return ready(config);
    },
    get database() {
      return ready(database);
    },
    logged,
    async outboxOn(on = ready(database), pollMs = NO_POLL_MS) {
      const outbox = await openOutbox({ database: on, databaseUrl: ready(config).databaseUrl, closeTimeoutMs: 5_000, pollMs, logger });
      opened.push(outbox);
      return outbox;
    },
    async anotherDatabase() {
      const handle = await openDatabase(ready(config));
      opened.push(handle);
      return handle;
    },
    rowsOf: (topic) => selectRows(ready(database), topic),
  };
}
