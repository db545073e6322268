import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { sql } from 'kysely';
import { registerMetrics } from '../../src/http/metrics.ts';
import { Problem } from '../../src/http/problems.ts';
import { defineOutboxHandler, type AnyOutboxHandler, type Outbox } from '../../src/platform/outbox/types.ts';
import { MemoryJobQueue } from '../../src/platform/queue/memory.ts';
import { NO_POLL_MS, outboxProfile as profile, useOutboxSetup } from '../helpers/outbox.ts';
import { eventually } from '../helpers/wait.ts';

describe(`outbox (${profile})`, () => {
  const setup = useOutboxSetup('outbox');
  const { logged, outboxOn, anotherDatabase, rowsOf } = setup;

  /** Writes each event in a transaction of its own. */
  async function write(outbox: Outbox, topic: string, payloads: readonly unknown[], key?: (payload: unknown) => string): Promise<void> {
    for (const payload of payloads) {
      await outbox.transaction(setup.database.db, async (_trx, emit) => emit({ topic, payload, key: key?.(payload) }));
    }
  }

  it('delivers a committed transaction’s events once, after the commit, and a rolled-back one’s never', async () => {
    const outbox = await outboxOn();
    const seen: unknown[] = [];
    let backlogWhileHandling = -1;
    outbox.start([
      defineOutboxHandler<{ n: number }>({
        topic: 'test.once',
        // Queries the database while handling: the relay must not be holding it (PGlite has one connection).
        handle: async (payloads) => {
          backlogWhileHandling = (await outbox.stats()).backlog;
          seen.push(...payloads);
        },
      }),
    ]);

    const answer = await outbox.transaction(setup.database.db, async (trx, emit) => {
      await emit({ topic: 'test.once', payload: { n: 1 } });
      await emit({ topic: 'test.once', payload: { n: 2 } });
      await sql`select 1`.execute(trx);
      assert.deepEqual(seen, [], 'nothing is delivered before the commit');
      return 'committed';
    });
    assert.equal(answer, 'committed');
    await assert.rejects(
      outbox.transaction(setup.database.db, async (_trx, emit) => {
        await emit({ topic: 'test.once', payload: { n: 3 } });
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    await outbox.drained(5_000);

    assert.deepEqual(seen, [{ n: 1 }, { n: 2 }]);
    assert.ok(backlogWhileHandling >= 1, 'a handled event stays in the table until its handler returns');
    assert.deepEqual(await rowsOf('test.once'), []);
  });

  it('delivers events composed into a statement once it succeeds, and none of a failed one', async () => {
    const outbox = await outboxOn();
    const seen: unknown[] = [];
    outbox.start([defineOutboxHandler<{ n: number }>({ topic: 'test.composed', batchSize: 10, handle: async (payloads) => void seen.push(...payloads) })]);
    const composed = (n: number, last: ReturnType<typeof sql>) =>
      outbox.writeWith(
        [{ topic: 'test.composed', payload: { n } }, { topic: 'test.composed', payload: { n: n + 1 } }],
        async (insertEvents) => (await sql<{ answer: number }>`with events as (${insertEvents}) ${last}`.execute(setup.database.db)).rows[0]?.answer,
      );

    assert.equal(await composed(1, sql`select 42 as answer`), 42, 'the caller’s statement answers');
    // The events' insert is part of a statement that fails after it: the whole statement rolls back.
    await assert.rejects(composed(3, sql`select 1 / 0 as answer`), /division by zero/);
    await outbox.drained(5_000);

    assert.deepEqual(seen, [{ n: 1 }, { n: 2 }]);
    assert.deepEqual(await rowsOf('test.composed'), []);
  });

  it('keeps events with one key in write order, even across a failed attempt', async () => {
    const outbox = await outboxOn();
    const handled: string[] = [];
    const attempts: string[] = [];
    // Twice: once in a batch with B1, then alone once the relay splits the failed batch.
    let failures = 0;
    outbox.start([
      defineOutboxHandler<{ id: string }>({
        topic: 'test.pair',
        batchSize: 10,
        handle: async (payloads) => {
          attempts.push(...payloads.map((payload) => payload.id));
          if (failures < 2 && payloads.some((payload) => payload.id === 'A1')) {
            failures += 1;
            throw new Error('A1 fails once');
          }
          handled.push(...payloads.map((payload) => payload.id));
        },
      }),
    ]);
    await outbox.transaction(setup.database.db, async (_trx, emit) => {
      for (const id of ['A1', 'A2', 'B1', 'A3', 'B2']) await emit({ topic: 'test.pair', payload: { id }, key: id[0] });
    });

    const [failed] = await eventually(async () => {
      const rows = await rowsOf('test.pair');
      assert.equal(rows[0]?.attempts, 1);
      return rows;
    });
    assert.deepEqual(failed?.payload, { id: 'A1' });
    assert.match(failed?.last_error ?? '', /A1 fails once/);
    assert.ok(failed !== undefined && failed.available_at.getTime() > Date.now(), 'it waits out a backoff');
    assert.ok(!handled.includes('A2'), 'A2 waits for A1');
    assert.ok(logged.some((entry) => entry.level === 'warn' && entry.message.includes('test.pair')), 'the failure is logged with its topic');

    await outbox.drained(5_000);
    assert.deepEqual(handled.filter((id) => id.startsWith('A')), ['A1', 'A2', 'A3']);
    assert.deepEqual(handled.filter((id) => id.startsWith('B')), ['B1', 'B2']);
    assert.ok(attempts.indexOf('A2') > attempts.lastIndexOf('A1'), 'A2 is first tried once A1 succeeded');
  });

  it('retries a failing handler with a growing backoff, keeping its event until it succeeds', async () => {
    const outbox = await outboxOn();
    const tries: number[] = [];
    outbox.start([
      defineOutboxHandler({
        topic: 'test.flaky',
        handle: async () => {
          tries.push(Date.now());
          if (tries.length < 3) throw new Error(`attempt ${tries.length} fails`);
        },
      }),
    ]);
    await write(outbox, 'test.flaky', [{}]);
    // The second failure is recorded once its claim settles, a moment after the handler threw.
    await eventually(async () => {
      assert.equal(tries.length, 2);
      assert.equal((await rowsOf('test.flaky'))[0]?.attempts, 2);
    });
    await outbox.drained(10_000);

    assert.equal(tries.length, 3);
    const [first = 0, second = 0, third = 0] = tries;
    assert.ok(second - first >= 900, `first retry after ~1 s (${second - first} ms)`);
    assert.ok(third - second >= 1900, `second retry after ~2 s (${third - second} ms)`);
    assert.deepEqual(await rowsOf('test.flaky'), []);
  });

  it('hands a handler at most its batch size, in write order', async () => {
    const outbox = await outboxOn();
    const batches: number[][] = [];
    outbox.start([defineOutboxHandler<number>({ topic: 'test.batch', batchSize: 3, handle: async (payloads) => void batches.push([...payloads]) })]);
    await outbox.transaction(setup.database.db, async (_trx, emit) => {
      for (let n = 1; n <= 8; n += 1) await emit({ topic: 'test.batch', payload: n });
    });
    await outbox.drained(5_000);

    assert.deepEqual(batches, [[1, 2, 3], [4, 5, 6], [7, 8]]);
  });

  it('delivers at start what was written while no relay ran', async () => {
    const outbox = await outboxOn();
    await write(outbox, 'test.backlog', [1, 2, 3]);
    await sleep(50);
    assert.equal((await rowsOf('test.backlog')).length, 3, 'nothing runs before start');
    const seen: unknown[] = [];
    outbox.start([defineOutboxHandler<number>({ topic: 'test.backlog', batchSize: 10, handle: async (payloads) => void seen.push(...payloads) })]);
    await outbox.drained(5_000);

    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('reports the backlog and the age of its oldest event, in /metrics too', async () => {
    const elsewhere = 'test.elsewhere';
    const outbox = await outboxOn();
    outbox.start([defineOutboxHandler({ topic: 'test.here', handle: async () => {} })]);
    assert.deepEqual(await outbox.stats(), { backlog: 0, oldestAgeSeconds: 0 });
    await write(outbox, elsewhere, [1, 2]);
    await sleep(300);

    const stats = await outbox.stats();
    assert.equal(stats.backlog, 2, 'an event no handler here takes waits for a process that has one');
    assert.ok(stats.oldestAgeSeconds >= 0.25 && stats.oldestAgeSeconds < 10, `age ${stats.oldestAgeSeconds}`);
    assert.equal(logged.filter((entry) => entry.message.includes(elsewhere)).length, 1, 'it is logged once');

    const app = Fastify();
    app.addSchema({ ...Problem, $id: 'Problem' });
    registerMetrics(app, { queue: new MemoryJobQueue(), names: [] }, outbox, { allow: [], token: undefined });
    const metrics = await app.inject({ url: '/metrics', remoteAddress: '127.0.0.1' });
    assert.match(metrics.body, /^outbox_backlog 2$/m);
    const age = Number(/^outbox_oldest_event_age_seconds (\S+)$/m.exec(metrics.body)?.[1]);
    assert.ok(age >= 0.25 && age < 10, `age ${age}`);
    await app.close();

    const other = await outboxOn();
    other.start([defineOutboxHandler({ topic: elsewhere, handle: async () => {} })]);
    await other.drained(5_000);
    assert.deepEqual(await outbox.stats(), { backlog: 0, oldestAgeSeconds: 0 });
  });

  describe('on PostgreSQL, between instances', { skip: profile !== 'postgres' && 'PostgreSQL only' }, () => {
    async function instance(handlers: readonly AnyOutboxHandler[], pollMs?: number): Promise<Outbox> {
      const outbox = await outboxOn(await anotherDatabase(), pollMs);
      outbox.start(handlers);
      return outbox;
    }

    it('shares events between relays, never handling one twice at once, and handles them all', async () => {
      const calls = new Map<number, number>();
      const inHand = new Set<number>();
      const byRelay = [0, 0];
      const handler = (relay: number) =>
        defineOutboxHandler<number>({
          topic: 'test.shared',
          batchSize: 5,
          handle: async (payloads) => {
            for (const n of payloads) {
              assert.ok(!inHand.has(n), `${n} is handled by two relays at once`);
              inHand.add(n);
              calls.set(n, (calls.get(n) ?? 0) + 1);
            }
            byRelay[relay]! += payloads.length;
            await sleep(5);
            for (const n of payloads) inHand.delete(n);
          },
        });
      const first = await instance([handler(0)]);
      const second = await instance([handler(1)]);
      const writes = Array.from({ length: 20 }, (_, batch) =>
        first.transaction(setup.database.db, async (_trx, emit) => {
          for (let n = batch * 10; n < batch * 10 + 10; n += 1) await emit({ topic: 'test.shared', payload: n });
        }),
      );
      await Promise.all(writes);
      await first.drained(10_000);
      await second.drained(10_000);

      assert.equal(calls.size, 200);
      assert.deepEqual([...new Set(calls.values())], [1], 'each event is handled once');
      assert.ok(byRelay[0]! > 0 && byRelay[1]! > 0, `both relays took a share (${byRelay.join(' and ')})`);
    });

    it('wakes on a NOTIFY from another instance, well before its poll', async () => {
      const seenAt: number[] = [];
      await instance([defineOutboxHandler({ topic: 'test.notify', handle: async () => void seenAt.push(Date.now()) })], NO_POLL_MS);
      const writer = await outboxOn(await anotherDatabase());
      await sleep(300); // the relay's LISTEN connection comes up
      const writtenAt = Date.now();
      await writer.transaction(setup.database.db, async (_trx, emit) => emit({ topic: 'test.notify', payload: {} }));
      await eventually(async () => assert.equal(seenAt.length, 1), 2_000);
      assert.ok(seenAt[0]! - writtenAt < 1_000, `delivered ${seenAt[0]! - writtenAt} ms after the write`);
    });
  });
});
