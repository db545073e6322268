import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { LISTEN_APPLICATION_NAME } from '../../src/platform/outbox/postgres-wake.ts';
import { defineOutboxHandler } from '../../src/platform/outbox/types.ts';
import { outboxProfile as profile, useOutboxSetup } from '../helpers/outbox.ts';
import { eventually } from '../helpers/wait.ts';

describe(`outbox relay (${profile})`, () => {
  const setup = useOutboxSetup('outbox-relay');
  const { outboxOn, anotherDatabase, rowsOf } = setup;

  it('hands the good events of a batch on and postpones only the poison one', async () => {
    const outbox = await outboxOn();
    const handled: number[] = [];
    outbox.start([
      defineOutboxHandler<number>({
        topic: 'test.poison',
        batchSize: 10,
        handle: async (payloads) => {
          if (payloads.includes(7)) throw new Error('7 is poison');
          handled.push(...payloads);
        },
      }),
    ]);
    await outbox.transaction(setup.database.db, async (_trx, emit) => {
      for (let n = 1; n <= 10; n += 1) await emit({ topic: 'test.poison', payload: n });
    });

    const [poison, ...others] = await eventually(async () => {
      const rows = await rowsOf('test.poison');
      assert.equal(rows.length, 1);
      return rows;
    }, 2_000);
    assert.deepEqual(others, []);
    assert.deepEqual(handled.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 8, 9, 10]);
    assert.equal(poison?.payload, 7);
    assert.equal(poison?.attempts, 1);
    assert.match(poison?.last_error ?? '', /7 is poison/);
  });

  it('delivers other topics while one topic’s handler is blocked', async () => {
    const outbox = await outboxOn();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let slowStarted = false;
    const fast: number[] = [];
    outbox.start([
      defineOutboxHandler({ topic: 'test.slow', handle: async () => ((slowStarted = true), await released) }),
      defineOutboxHandler<number>({ topic: 'test.fast', batchSize: 10, handle: async (payloads) => void fast.push(...payloads) }),
    ]);
    await outbox.transaction(setup.database.db, async (_trx, emit) => emit({ topic: 'test.slow', payload: {} }));
    await eventually(async () => assert.ok(slowStarted), 2_000);
    for (let n = 1; n <= 3; n += 1) await outbox.transaction(setup.database.db, async (_trx, emit) => emit({ topic: 'test.fast', payload: n }));

    await eventually(async () => assert.deepEqual(fast, [1, 2, 3]), 2_000);
    assert.equal((await rowsOf('test.slow')).length, 1, 'the slow event is still being handled');
    release();
    // Not `drained`: the poison event of the test before stays in the table.
    await eventually(async () => assert.deepEqual(await rowsOf('test.slow'), []), 2_000);
  });

  it('delivers a topic while three others are blocked: each topic has a claim connection of its own', async () => {
    const outbox = await outboxOn();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const blocked = ['test.blocked-a', 'test.blocked-b', 'test.blocked-c'];
    const started = new Set<string>();
    const fast: number[] = [];
    outbox.start([
      ...blocked.map((topic) => defineOutboxHandler({ topic, handle: async () => (started.add(topic), await released) })),
      defineOutboxHandler<number>({ topic: 'test.unblocked', handle: async (payloads) => void fast.push(...payloads) }),
    ]);
    await outbox.transaction(setup.database.db, async (_trx, emit) => {
      for (const topic of blocked) await emit({ topic, payload: {} });
    });
    await eventually(async () => assert.equal(started.size, 3), 2_000);
    await outbox.transaction(setup.database.db, async (_trx, emit) => emit({ topic: 'test.unblocked', payload: 1 }));

    await eventually(async () => assert.deepEqual(fast, [1]), 2_000);
    release();
    await eventually(async () => assert.deepEqual((await Promise.all(blocked.map(rowsOf))).flat(), []), 2_000);
  });

  it('claims the events written while its topic’s batch ran together, once it ends', async () => {
    const outbox = await outboxOn();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const calls: number[][] = [];
    outbox.start([
      defineOutboxHandler<number>({
        topic: 'test.burst',
        batchSize: 100,
        handle: async (payloads) => {
          calls.push([...payloads]);
          if (payloads[0] === 0) await released;
        },
      }),
    ]);
    await outbox.transaction(setup.database.db, async (_trx, emit) => emit({ topic: 'test.burst', payload: 0 }));
    await eventually(async () => assert.equal(calls.length, 1), 2_000);
    const burst = Array.from({ length: 20 }, (_, index) => index + 1);
    for (const n of burst) await outbox.transaction(setup.database.db, async (_trx, emit) => emit({ topic: 'test.burst', payload: n }));
    release();

    await eventually(async () => assert.deepEqual(await rowsOf('test.burst'), []), 2_000);
    assert.deepEqual(calls, [[0], burst], 'one batch for the whole burst');
  });

  it('hands a topic that several modules handle to each, in its own batch size; one failing retries the event for all', async () => {
    const outbox = await outboxOn();
    const small: number[][] = [];
    const large: number[][] = [];
    let failOnce = true;
    outbox.start([
      defineOutboxHandler<number>({ topic: 'test.shared', batchSize: 2, handle: async (payloads) => void small.push([...payloads]) }),
      defineOutboxHandler<number>({
        topic: 'test.shared',
        batchSize: 10,
        handle: async (payloads) => {
          large.push([...payloads]);
          if (failOnce && payloads.includes(3)) {
            failOnce = false;
            throw new Error('not yet');
          }
        },
      }),
    ]);
    await outbox.transaction(setup.database.db, async (_trx, emit) => {
      for (let n = 1; n <= 5; n += 1) await emit({ topic: 'test.shared', payload: n });
    });
    await eventually(async () => assert.deepEqual(await rowsOf('test.shared'), []), 5_000);
    assert.deepEqual(large[0], [1, 2, 3, 4, 5], 'the larger batch size for the whole claim');
    assert.deepEqual(small[0], [1, 2], 'each handler in its own batch size');
    const seen = (calls: number[][]) => [...new Set(calls.flat())].sort();
    assert.deepEqual([seen(small), seen(large)], [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]], 'both saw every event');
    assert.ok(small.flat().filter((n) => n === 3).length >= 2, 'the failed event was handed to the other handler again');
  });

  it('listens again after its connection is terminated, waking on the next NOTIFY', { skip: profile !== 'postgres' && 'PostgreSQL only' }, async () => {
    const listener = await anotherDatabase();
    const relay = await outboxOn(listener);
    const seen: number[] = [];
    relay.start([defineOutboxHandler<number>({ topic: 'test.relisten', handle: async (payloads) => void seen.push(...payloads) })]);
    const writerDb = await anotherDatabase();
    const writer = await outboxOn(writerDb);
    const terminate = async () =>
      (await sql<{ ended: boolean }>`select pg_terminate_backend(pid) as ended from pg_stat_activity where application_name = ${LISTEN_APPLICATION_NAME} and datname = current_database()`.execute(setup.database.db)).rows;
    await eventually(async () => assert.ok((await terminate()).length >= 2), 2_000); // every instance's listener
    // Reconnecting takes its first backoff (0.5 s); then a NOTIFY must reach the relay, not the poll.
    await eventually(async () => {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where application_name = ${LISTEN_APPLICATION_NAME} and datname = current_database() and query ilike 'listen%'`.execute(setup.database.db);
      assert.ok((rows[0]?.n ?? 0) >= 2);
    }, 5_000);
    await sleep(100);
    const writtenAt = Date.now();
    await writer.transaction(writerDb.db, async (_trx, emit) => emit({ topic: 'test.relisten', payload: 1 }));
    await eventually(async () => assert.deepEqual(seen, [1]), 3_000);
    assert.ok(Date.now() - writtenAt < 2_000);
  });
});
