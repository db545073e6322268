import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { loadConfig } from '../../src/config.ts';
import type { DatabaseHandle } from '../../src/platform/db/database.ts';
import { openDatabase } from '../../src/platform/db/open.ts';
import { violatedUniqueConstraint } from '../../src/platform/db/errors.ts';
import { migrateToLatest } from '../../src/platform/db/migrate.ts';
import { migrations } from '../../src/db/migrations/index.ts';
import { createTestDatabase, servicesDatabaseUrl } from '../helpers/database.ts';

/**
 * The database platform's contract. It runs on PGlite by default and on PostgreSQL when
 * DATABASE_URL is set (the services run), and must hold on both.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'plaza-db-'));
const services = servicesDatabaseUrl !== undefined;
const testDatabase = servicesDatabaseUrl === undefined ? undefined : await createTestDatabase(servicesDatabaseUrl);
const config = loadConfig({
  DATA_DIR: dataDir,
  JWT_SECRET: 'x'.repeat(32),
  // A schema other than public, as several deployments sharing one server would use.
  ...(testDatabase !== undefined && { DATABASE_URL: testDatabase.url, DATABASE_SCHEMA: 'plaza_contract' }),
});
let database: DatabaseHandle;

before(async () => {
  database = await openDatabase(config);
  await sql`create table counters (name text primary key, value integer not null)`.execute(database.db);
  await sql`create table items (id text primary key)`.execute(database.db);
});
after(async () => {
  await database.close();
  await testDatabase?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

const raw = (database: DatabaseHandle) => database.db as unknown as import('kysely').Kysely<any>;

describe(`database platform (${services ? 'postgres' : 'pglite'})`, () => {
  it('answers ping and reports its profile', async () => {
    await database.ping();
    assert.equal(database.profile, services ? 'postgres' : 'pglite');
  });

  it('applies every migration once, and a second run applies none', async () => {
    const first = await migrateToLatest(database);
    assert.deepEqual(
      first.map((result) => result.migrationName),
      Object.keys(migrations),
    );
    assert.ok(first.every((result) => result.status === 'Success'));
    assert.deepEqual(await migrateToLatest(database), []);
  });

  it('applies to a database that is behind only the migrations it lacks', async () => {
    const names = Object.keys(migrations);
    const behindDir = mkdtempSync(join(tmpdir(), 'plaza-db-behind-'));
    const behind = await openDatabase({ ...config, dataDir: behindDir, databaseSchema: 'plaza_behind' });
    try {
      const migrator = new Migrator({ db: behind.db, provider: { getMigrations: async () => migrations }, migrationTableSchema: behind.schema });
      assert.equal((await migrator.migrateTo(names.at(-2)!)).error, undefined);
      assert.deepEqual((await migrateToLatest(behind)).map((result) => result.migrationName), [names.at(-1)]);
      assert.deepEqual(await migrateToLatest(behind), []);
    } finally {
      await behind.close();
      rmSync(behindDir, { recursive: true, force: true });
    }
  });

  it('commits a transaction as a whole, or nothing of it', async () => {
    const db = raw(database);
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ id: 'committed-1' }).execute();
      await trx.insertInto('items').values({ id: 'committed-2' }).execute();
    });
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: 'rolled-back' }).execute();
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    const ids = (await db.selectFrom('items').select('id').orderBy('id').execute()).map((row) => row.id);
    assert.deepEqual(ids, ['committed-1', 'committed-2']);
  });

  it('never shows one transaction’s uncommitted writes to concurrent work', async () => {
    const db = raw(database);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const written = new Promise<void>((resolve) => (inserted = resolve));
    const writer = db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ id: 'in-flight' }).execute();
      inserted();
      await held;
      throw new Error('roll back');
    });
    await written;
    // On PGlite this read must wait its turn; on PostgreSQL it runs beside the writer, which holds
    // its uncommitted row until the read has answered. Either way it must not see that row.
    const reader = db.selectFrom('items').select('id').where('id', '=', 'in-flight').execute();
    if (services) assert.deepEqual(await reader, [], 'not while the writer is open');
    release();
    await assert.rejects(writer, /roll back/);
    assert.deepEqual(await reader, []);
  });

  it('keeps read-modify-write transactions from interleaving', async () => {
    const db = raw(database);
    await db.insertInto('counters').values({ name: 'hits', value: 0 }).execute();
    await Promise.all(
      Array.from({ length: 20 }, () =>
        db.transaction().execute(async (trx) => {
          const row = await trx
            .selectFrom('counters')
            .select('value')
            .where('name', '=', 'hits')
            .forUpdate()
            .executeTakeFirstOrThrow();
          await new Promise((resolve) => setImmediate(resolve));
          await trx.updateTable('counters').set({ value: row.value + 1 }).where('name', '=', 'hits').execute();
        }),
      ),
    );
    const final = await db.selectFrom('counters').select('value').where('name', '=', 'hits').executeTakeFirstOrThrow();
    assert.equal(final.value, 20);
  });

  it('names the unique constraint a duplicate broke', async () => {
    const db = raw(database);
    await db.insertInto('items').values({ id: 'unique-1' }).execute();
    const error = await db
      .insertInto('items')
      .values({ id: 'unique-1' })
      .execute()
      .then(() => undefined, (error: unknown) => error);
    assert.equal(violatedUniqueConstraint(error), 'items_pkey');
    assert.equal(violatedUniqueConstraint(new Error('other')), undefined);
  });

  it('returns timestamps as Dates and integers as numbers', async () => {
    const row = await sql<{ at: Date; n: number }>`select now() as at, 41 + 1 as n`.execute(database.db);
    assert.ok(row.rows[0]?.at instanceof Date);
    assert.equal(row.rows[0]?.n, 42);
  });

  it('keeps answering a statement whose result columns changed under it (prepared on PostgreSQL)', async () => {
    const db = raw(database);
    await sql`create table shapes (id text primary key)`.execute(db);
    await db.insertInto('shapes').values({ id: 'a' }).execute();
    const read = () => db.selectFrom('shapes').selectAll().where('id', '=', 'a').executeTakeFirstOrThrow();
    // Enough runs on every pooled connection for PostgreSQL to settle on a cached plan.
    await Promise.all(Array.from({ length: 40 }, read));
    await sql`alter table shapes add column label text not null default 'new'`.execute(db);
    const rows = await Promise.all(Array.from({ length: 40 }, read));
    assert.ok(rows.every((row) => row.label === 'new'), 'every connection sees the new column');
  });
});

describe('PGlite data directories', { skip: services && 'PGlite only' }, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'plaza-db-template-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  const failOnError = (error: unknown, context: string): void => assert.fail(`${context}: ${String(error)}`);
  const open = (name: string, templatesDir: string, onError = failOnError) =>
    openDatabase({ ...config, dataDir: join(scratch, name) }, { pgliteTemplatesDir: templatesDir, onError });

  it('starts a new directory from a template of a fresh cluster, and each directory is a database of its own', async () => {
    const templates = join(scratch, 'templates');
    // initdb gives every cluster its own system identifier; copies of one template share it.
    const systemId = async (database: DatabaseHandle) =>
      (await sql<{ id: string }>`select system_identifier::text as id from pg_control_system()`.execute(database.db)).rows[0]?.id;
    const first = await open('first', templates);
    let firstId: string | undefined;
    try {
      firstId = await systemId(first);
      await sql`create table only_in_first (id int)`.execute(first.db);
      assert.equal(readdirSync(templates).filter((name) => name.startsWith('pglite-')).length, 1, 'one template, nothing left half-built');
    } finally {
      await first.close();
    }
    const second = await open('second', templates);
    try {
      assert.equal(await systemId(second), firstId, 'copied from the same template');
      const tables = await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename = 'only_in_first'`.execute(second.db);
      assert.equal(tables.rows[0]?.n, 0);
      await sql`create table only_in_second (id int)`.execute(second.db);
    } finally {
      await second.close();
    }
    const reopened = await open('first', templates);
    try {
      const tables = await sql<{ tablename: string }>`select tablename from pg_tables where tablename like 'only_in_%'`.execute(reopened.db);
      assert.deepEqual(tables.rows.map((row) => row.tablename), ['only_in_first']);
    } finally {
      await reopened.close();
    }
  });

  it('opens a new directory in place when no template can be made, and says why', async () => {
    const errors: string[] = [];
    // A templates directory under a file cannot be created.
    writeFileSync(join(scratch, 'a-file'), '');
    const database = await open('in-place', join(scratch, 'a-file', 'templates'), (_error, context) => void errors.push(context));
    try {
      await database.ping();
      assert.equal(errors.length, 1);
      assert.match(errors[0]!, /no PGlite template/);
    } finally {
      await database.close();
    }
  });

  it('keeps its shared buffers small', async () => {
    const setting = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(database.db);
    assert.equal(setting.rows[0]?.shared_buffers, '16MB');
  });
});
