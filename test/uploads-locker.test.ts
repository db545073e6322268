import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ERRORS } from '@tus/server';
import pg from 'pg';
import { openPostgresLocker, type PostgresLocker } from '../src/modules/uploads/postgres-locker.ts';
import { createTestDatabase, servicesDatabaseUrl } from './helpers/database.ts';
import { eventually } from './helpers/wait.ts';

/** The tus locker of the services profile, as two instances use it: two lockers on one database. */

const skip = servicesDatabaseUrl === undefined ? 'needs PostgreSQL (npm run test:services)' : false;

describe('tus upload locks shared through PostgreSQL', { skip }, () => {
  let database: { url: string; drop(): Promise<void> };
  const lockers: PostgresLocker[] = [];
  const errors: unknown[] = [];
  const openLocker = (acquireTimeoutMs = 5_000) => {
    const locker = openPostgresLocker({ url: database.url, schema: 'public', acquireTimeoutMs, onError: (error) => errors.push(error) });
    lockers.push(locker);
    return locker;
  };
  const never = new AbortController().signal;

  before(async () => {
    database = await createTestDatabase(servicesDatabaseUrl ?? '');
  });
  after(async () => {
    await Promise.all(lockers.map((locker) => locker.close()));
    await database?.drop();
  });

  /** Backends holding advisory locks in the test database. */
  async function holders(): Promise<number[]> {
    return withConnection(database.url, async (connection) => {
      const { rows } = await connection.query<{ pid: number }>(
        `select pid from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`,
      );
      return rows.map((row) => row.pid);
    });
  }

  it('makes a request on another instance ask the holder to let go, and take the lock once it has', async () => {
    const [one, two] = [openLocker(), openLocker()];
    const held = one.newLock('upload-a');
    let asked = 0;
    await held.lock(never, () => void (asked += 1));
    assert.equal((await holders()).length, 1);

    const waiting = two.newLock('upload-a');
    let acquired = false;
    const taking = waiting.lock(never, () => {}).then(() => (acquired = true));
    await eventually(async () => assert.ok(asked >= 1, 'the holder was asked to release'));
    assert.equal(acquired, false, 'not while the holder holds it');
    await held.unlock();
    await taking;
    assert.equal((await holders()).length, 1);
    await waiting.unlock();
    assert.deepEqual(await holders(), []);
    // Another upload is not held up by either.
    const other = two.newLock('upload-b');
    await other.lock(never, () => {});
    await other.unlock();
  });

  it('makes requests of one instance take turns too, though session locks would let them both in', async () => {
    const locker = openLocker();
    const first = locker.newLock('upload-c');
    let asked = false;
    await first.lock(never, () => void (asked = true));
    let secondIn = false;
    const second = locker.newLock('upload-c');
    const taking = second.lock(never, () => {}).then(() => (secondIn = true));
    await eventually(async () => assert.ok(asked));
    assert.equal(secondIn, false);
    await first.unlock();
    await taking;
    await second.unlock();
  });

  it('gives up after its timeout, or when the request ends, when the holder does not let go', async () => {
    const holder = openLocker().newLock('upload-d');
    await holder.lock(never, () => {});
    const started = Date.now();
    await assert.rejects(openLocker(300).newLock('upload-d').lock(never, () => {}), (error) => error === ERRORS.ERR_LOCK_TIMEOUT);
    assert.ok(Date.now() - started >= 300);
    const ended = new AbortController();
    const waiting = openLocker().newLock('upload-d').lock(ended.signal, () => {});
    ended.abort();
    await assert.rejects(waiting, (error) => error === ERRORS.ERR_LOCK_TIMEOUT);
    await holder.unlock();
  });

  it('frees the lock of a holder whose connection dies, as with a crashed instance, and tells the holder', async () => {
    const [one, two] = [openLocker(), openLocker()];
    const held = one.newLock('upload-e');
    let told = false;
    await held.lock(never, () => void (told = true));
    const [pid] = await holders();
    assert.ok(pid !== undefined);
    await withConnection(database.url, (connection) => connection.query('select pg_terminate_backend($1)', [pid]));

    const next = two.newLock('upload-e');
    await next.lock(never, () => {});
    await eventually(async () => assert.ok(told, 'the holder was told to stop: its lock is gone'));
    await held.unlock();
    assert.equal((await holders()).length, 1, 'the old holder unlocking takes nothing from the new one');
    await next.unlock();
    // The locker whose connection died connects again and locks as before.
    await eventually(async () => {
      const again = one.newLock('upload-f');
      await again.lock(AbortSignal.timeout(1_000), () => {});
      await again.unlock();
    }, 10_000);
    assert.ok(errors.length > 0, 'the lost connection was reported');
  });
});

async function withConnection<T>(url: string, use: (connection: pg.Client) => Promise<T>): Promise<T> {
  const connection = new pg.Client({ connectionString: url });
  await connection.connect();
  try {
    return await use(connection);
  } finally {
    await connection.end();
  }
}
