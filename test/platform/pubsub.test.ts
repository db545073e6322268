import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryPubSub } from '../../src/platform/pubsub/memory.ts';
import { RedisPubSub } from '../../src/platform/pubsub/redis.ts';
import type { PubSub } from '../../src/platform/pubsub/types.ts';
import { MemoryBacklog, userChannel, type EventBacklog } from '../../src/modules/stream/backlog.ts';
import { RedisBacklog } from '../../src/modules/stream/backlog-redis.ts';
import { redisPerSuite, redisSkip } from '../helpers/redis.ts';
import { eventually } from '../helpers/wait.ts';

/**
 * The pub/sub contract, and the stream backlog's (which publishes on it), in memory and on Redis:
 * REDIS_URL when set, else a private redis-server when one is installed, else Redis is skipped.
 */
type Harness = {
  /** Two instances' pub/subs: the same deployment (in memory, one process: the same one). */
  pair(): Promise<[PubSub, PubSub]>;
  backlog(pubsub: PubSub, length: number, ttlSeconds?: number): EventBacklog;
};

function contract(name: string, harness: () => Harness) {
  describe(`pub/sub (${name})`, () => {
    const inbox = () => {
      const got: string[] = [];
      return { got, listener: (message: string) => void got.push(message) };
    };

    it('delivers to every listener subscribed, in publishing order, on any instance', async () => {
      const [a, b] = await harness().pair();
      const first = inbox();
      const second = inbox();
      await a.subscribe('ch', first.listener);
      await b.subscribe('ch', second.listener);
      await a.publish([{ channel: 'ch', message: '1' }, { channel: 'other', message: 'x' }, { channel: 'ch', message: '2' }]);
      await b.publish([{ channel: 'ch', message: '3' }]);
      await eventually(async () => assert.deepEqual([first.got, second.got], [['1', '2', '3'], ['1', '2', '3']]));
    });

    it('stops delivering to a listener once it unsubscribes, keeping the others', async () => {
      const [a, b] = await harness().pair();
      const gone = inbox();
      const kept = inbox();
      const unsubscribe = await b.subscribe('ch', gone.listener);
      await b.subscribe('ch', kept.listener);
      await unsubscribe();
      await a.publish([{ channel: 'ch', message: 'after' }]);
      await eventually(async () => assert.deepEqual(kept.got, ['after']));
      assert.deepEqual(gone.got, []);
    });

    it('subscribing again after leaving works, however the joins and leaves interleave', async () => {
      const [a, b] = await harness().pair();
      const got = inbox();
      for (let i = 0; i < 5; i += 1) {
        const leave = await b.subscribe('flip', () => {});
        void leave();
      }
      await b.subscribe('flip', got.listener);
      await a.publish([{ channel: 'flip', message: 'here' }]);
      await eventually(async () => assert.deepEqual(got.got, ['here']));
    });

    it('backlog: appends with increasing ids, publishes each with its id, replays after an id', async () => {
      const h = harness();
      const [a, b] = await h.pair();
      const backlog = h.backlog(a, 10);
      const got = inbox();
      await backlog.present(['u1']);
      await b.subscribe(userChannel('u1'), got.listener);
      const ids = (await backlog.append([1, 2, 3].map((n) => ({ userIds: ['u1'], event: { type: 'post', data: `{"n":${n}}` } })))).flat();
      await eventually(async () => assert.deepEqual(got.got.map((m) => JSON.parse(m).id), ids));
      assert.deepEqual(JSON.parse(got.got[0]!), { id: ids[0], type: 'post', data: '{"n":1}' });
      const replay = await backlog.since('u1', ids[0]!);
      assert.deepEqual(replay, { kind: 'events', events: [2, 3].map((n, i) => ({ id: ids[i + 1], type: 'post', data: `{"n":${n}}` })) });
      assert.deepEqual(await backlog.since('u1', '0-0'), { kind: 'events', events: (replay.kind === 'events' ? [{ id: ids[0], type: 'post', data: '{"n":1}' }, ...replay.events] : []) });
      assert.deepEqual(await backlog.since('u1', 'garbage'), { kind: 'reset', newestId: ids[2] });
      assert.deepEqual(await backlog.since('u1', '1-0'), { kind: 'reset', newestId: ids[2] });
      assert.deepEqual(await backlog.since('nobody', '0-0'), { kind: 'events', events: [] });
      assert.deepEqual(await backlog.since('nobody', ids[0]!), { kind: 'reset', newestId: '0-0' });
      await backlog.close();
    });

    it('backlog: an id trimmed past is a reset; one still kept replays', async () => {
      const h = harness();
      const [a] = await h.pair();
      const backlog = h.backlog(a, 10);
      await backlog.present(['u2']);
      // Redis trims whole nodes (100 entries by default): enough to trim one.
      const ids = (await backlog.append(Array.from({ length: 250 }, (_, n) => ({ userIds: ['u2'], event: { type: 'post', data: String(n) } })))).flat();
      assert.equal((await backlog.since('u2', ids[0]!)).kind, 'reset');
      const recent = await backlog.since('u2', ids.at(-3)!);
      assert.deepEqual(recent.kind === 'events' && recent.events.map((event) => event.id), ids.slice(-2));
      await backlog.close();
    });

    it('backlog: keeps no event for a user not present, and a replay from before one says reset', async () => {
      const h = harness();
      const [a, b] = await h.pair();
      const backlog = h.backlog(a, 10);
      const got = inbox();
      await b.subscribe(userChannel('absent'), got.listener);
      await b.subscribe(userChannel('here'), got.listener);
      await backlog.present(['here']);
      const [dropped, kept] = (await backlog.append([{ userIds: ['absent', 'here'], event: { type: 'post', data: '1' } }]))[0]!;
      assert.equal(dropped, undefined, 'nobody listens: not kept');
      assert.ok(kept !== undefined);
      await eventually(async () => assert.deepEqual(got.got.map((m) => JSON.parse(m).data), ['1']), 2_000);
      assert.deepEqual(await backlog.since('absent', '0-0'), { kind: 'events', events: [] });

      await backlog.close();
    });

    it('backlog: a user marked present again after a lapse starts afresh, so a replay from before says reset', async () => {
      const h = harness();
      const [a] = await h.pair();
      const backlog = h.backlog(a, 10, 3);
      const event = (n: number) => ({ userIds: ['gone'], event: { type: 'post', data: String(n) } });
      await backlog.present(['gone']);
      await sleep(1_500);
      const [kept] = (await backlog.append([event(1)])).flat();
      assert.ok(kept !== undefined, 'present for 3 s: kept, and the backlog lives 3 s after it');
      await sleep(2_000);
      // Present no more (3 s after the mark), the backlog still there (3 s after its event).
      assert.equal((await backlog.append([event(2)])).flat()[0], undefined, 'left out: nobody listens');
      assert.deepEqual(await backlog.since('gone', '0-0'), { kind: 'events', events: [{ id: kept, type: 'post', data: '1' }] });
      await backlog.present(['gone']);
      assert.deepEqual(await backlog.since('gone', kept!), { kind: 'reset', newestId: '0-0' }, 'not a replay that leaves event 2 out');
      const [next] = (await backlog.append([event(3)])).flat();
      assert.deepEqual(await backlog.since('gone', '0-0'), { kind: 'events', events: [{ id: next, type: 'post', data: '3' }] });
      await backlog.close();
    });
  });
}

contract('memory', () => {
  const pubsub = new MemoryPubSub();
  return { pair: async () => [pubsub, pubsub], backlog: (on, length, ttlSeconds = 60) => new MemoryBacklog({ length, ttlSeconds }, on) };
});

describe('redis', { skip: redisSkip }, () => {
  const redisForSuite = redisPerSuite();

  contract('redis', () => {
    const prefix = redisForSuite.newPrefix();
    const redisUrl = redisForSuite.url;
    return {
      async pair() {
        const one = () => redisForSuite.closedAfter(new RedisPubSub({ redisUrl, prefix }));
        const pair = [one(), one()] as const;
        await Promise.all(pair.map((each) => each.connect()));
        return [...pair];
      },
      backlog: (_on, length, ttlSeconds = 60) => redisForSuite.closedAfter(new RedisBacklog({ redisUrl, prefix, limits: { length, ttlSeconds } })),
    };
  });

  it('joins a channel on its first local listener and leaves it after its last', async () => {
    const prefix = redisForSuite.newPrefix();
    const pubsub = redisForSuite.closedAfter(new RedisPubSub({ redisUrl: redisForSuite.url, prefix }));
    await pubsub.connect();
    const { client } = redisForSuite;
    const subscribers = async () => Number(((await client.call('PUBSUB', 'NUMSUB', `${prefix}:pubsub:ch`)) as unknown[])[1]);
    const leaves = await Promise.all(Array.from({ length: 3 }, () => pubsub.subscribe('ch', () => {})));
    assert.equal(await subscribers(), 1, 'one subscription for three listeners');
    await leaves[0]!();
    await leaves[1]!();
    assert.equal(await subscribers(), 1);
    await leaves[2]!();
    assert.equal(await subscribers(), 0);
  });
});

describe('memory backlog', () => {
  it('forgets the least recently written users past its byte budget, telling them to reset', async () => {
    const backlog = new MemoryBacklog({ length: 100, ttlSeconds: 60 }, new MemoryPubSub(), { maxBytes: 10_000 });
    await backlog.present(['old', 'recent', 'busy']);
    const [old] = (await backlog.append([{ userIds: ['old'], event: { type: 'post', data: 'x' } }])).flat();
    const [recent] = (await backlog.append([{ userIds: ['recent'], event: { type: 'post', data: 'y' } }])).flat();
    assert.equal((await backlog.since('old', '0-0')).kind, 'events');
    // Each event counts twice its data and 100 more: 102 + 102 + 2 × 4920 passes 10,000 by 44, so only the oldest goes.
    await backlog.append(Array.from({ length: 2 }, () => ({ userIds: ['busy'], event: { type: 'post', data: 'z'.repeat(2410) } })));
    assert.deepEqual(await backlog.since('old', old!), { kind: 'reset', newestId: '0-0' });
    assert.deepEqual(await backlog.since('recent', recent!), { kind: 'events', events: [] });
  });
});
