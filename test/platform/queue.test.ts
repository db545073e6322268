import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BullMQJobQueue } from '../../src/platform/queue/bullmq.ts';
import { MemoryJobQueue } from '../../src/platform/queue/memory.ts';
import type { JobQueue, JobState } from '../../src/platform/queue/types.ts';
import { redisPerSuite, redisSkip } from '../helpers/redis.ts';

/**
 * The job queue contract. The memory queue always runs; BullMQ runs on REDIS_URL when set (the
 * services run), else on a private redis-server when one is installed, else it is skipped.
 */
type QueueFactory = (options?: { closeTimeoutMs?: number }) => JobQueue;

const memory: QueueFactory = (options) => new MemoryJobQueue(options);

describe('job queue (bullmq)', { skip: redisSkip }, () => {
  // Each queue gets its own prefix, so tests never see each other's jobs.
  const redisForSuite = redisPerSuite();
  contract((options) => new BullMQJobQueue({ redisUrl: redisForSuite.url, prefix: redisForSuite.newPrefix(), ...options }));
});

describe('job queue (memory)', () => contract(memory));

function contract(create: QueueFactory): void {
  it('answers ping while open, and not once closed', async () => {
    const queue = create();
    await queue.ping();
    await queue.close();
    await assert.rejects(queue.ping());
  });

  it('runs a job with its payload', async () => {
    await using queue = closing(create());
    const seen: unknown[] = [];
    queue.process('greet', async (payload, job) => void seen.push(payload, job));
    const id = await queue.enqueue('greet', { to: 'Ada', at: new Date(0) });
    await waitForState(queue, 'greet', id, 'completed');
    assert.deepEqual(seen, [{ to: 'Ada', at: '1970-01-01T00:00:00.000Z' }, { id, name: 'greet', attempt: 1 }]);
    assert.deepEqual(await queue.status('greet', id), { state: 'completed', attemptsMade: 1 });
    assert.equal(await queue.status('greet', 'no-such-job'), undefined);
  });

  it('runs no more jobs of a name at once than its concurrency', async () => {
    await using queue = closing(create());
    // Enqueued before any handler exists, as a web process does for a separate worker process.
    for (let i = 0; i < 10; i++) await queue.enqueue('resize', { i });
    let running = 0;
    let most = 0;
    const handler = async () => {
      most = Math.max(most, ++running);
      await sleep(20);
      running -= 1;
    };
    queue.process('resize', handler, { concurrency: 2 });
    await waitFor(async () => (await queue.counts('resize')).completed === 10);
    assert.equal(most, 2);
  });

  it('retries a failing job with growing delays until it succeeds', async () => {
    await using queue = closing(create());
    const startedAt: number[] = [];
    queue.process('flaky', async (_payload, job) => {
      startedAt.push(Date.now());
      assert.equal(job.attempt, startedAt.length);
      if (job.attempt < 3) throw new Error(`attempt ${job.attempt} failed`);
    });
    const id = await queue.enqueue('flaky', {}, { attempts: 3, backoffMs: 50 });
    await waitForState(queue, 'flaky', id, 'completed');
    assert.equal(startedAt.length, 3);
    const [first, second, third] = startedAt as [number, number, number];
    assert.ok(second - first >= 48, `first retry after ${second - first} ms, expected ≥ 50`);
    assert.ok(third - second >= 98, `second retry after ${third - second} ms, expected ≥ 100`);
    assert.deepEqual(await queue.status('flaky', id), { state: 'completed', attemptsMade: 3, error: 'attempt 2 failed' });
  });

  it('keeps a job that failed every attempt as failed, with its last error', async () => {
    await using queue = closing(create());
    queue.process('doomed', async (_payload, job) => {
      throw new Error(`boom on attempt ${job.attempt}`);
    });
    const id = await queue.enqueue('doomed', {}, { attempts: 2, backoffMs: 10 });
    await waitForState(queue, 'doomed', id, 'failed');
    assert.deepEqual(await queue.status('doomed', id), { state: 'failed', attemptsMade: 2, error: 'boom on attempt 2' });
  });

  it('runs a delayed job no sooner than its delay', async () => {
    await using queue = closing(create());
    let ranAt = 0;
    queue.process('later', async () => void (ranAt = Date.now()));
    const enqueuedAt = Date.now();
    const id = await queue.enqueue('later', {}, { delayMs: 150 });
    assert.equal((await queue.status('later', id))?.state, 'delayed');
    await waitForState(queue, 'later', id, 'completed');
    assert.ok(ranAt - enqueuedAt >= 148, `ran after ${ranAt - enqueuedAt} ms, expected ≥ 150`);
  });

  it('adds a job only once per job id', async () => {
    await using queue = closing(create());
    const first = await queue.enqueue('thumbnail', { n: 1 }, { jobId: 'media-42' });
    const again = await queue.enqueue('thumbnail', { n: 2 }, { jobId: 'media-42' });
    assert.deepEqual([first, again], ['media-42', 'media-42']);
    const payloads: unknown[] = [];
    queue.process('thumbnail', async (payload) => void payloads.push(payload));
    await waitForState(queue, 'thumbnail', 'media-42', 'completed');
    assert.equal(await queue.enqueue('thumbnail', { n: 3 }, { jobId: 'media-42' }), 'media-42', 'kept after finishing');
    assert.deepEqual(await queue.counts('thumbnail'), { waiting: 0, delayed: 0, active: 0, completed: 1, failed: 0 });
    assert.deepEqual(payloads, [{ n: 1 }]);
  });

  it('counts jobs by state', async () => {
    await using queue = closing(create());
    await queue.enqueue('count', {}, { attempts: 1 });
    await queue.enqueue('count', {}, { attempts: 1 });
    await queue.enqueue('count', {}, { delayMs: 60_000 });
    assert.deepEqual(await queue.counts('count'), { waiting: 2, delayed: 1, active: 0, completed: 0, failed: 0 });
    queue.process('count', async () => {
      throw new Error('no');
    });
    await waitFor(async () => (await queue.counts('count')).failed === 2);
    assert.deepEqual(await queue.counts('count'), { waiting: 0, delayed: 1, active: 0, completed: 0, failed: 2 });
  });

  it('waits on close for a job that is running', async () => {
    await using queue = closing(create()); // closes a second time at the end, which must be harmless
    let finished = false;
    queue.process('slow', async () => {
      await sleep(100);
      finished = true;
    });
    const id = await queue.enqueue('slow', {});
    await waitForState(queue, 'slow', id, 'active');
    await queue.close();
    assert.equal(finished, true);
  });

  it('stops waiting on close after its timeout', async () => {
    await using queue = closing(create({ closeTimeoutMs: 50 }));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    queue.process('stuck', () => released);
    const id = await queue.enqueue('stuck', {});
    await waitForState(queue, 'stuck', id, 'active');
    const closingAt = Date.now();
    await queue.close();
    release();
    assert.ok(Date.now() - closingAt < 1000, `close took ${Date.now() - closingAt} ms`);
  });
}

/** Closes the queue when the test's `await using` scope ends, pass or fail. */
function closing(queue: JobQueue): JobQueue & AsyncDisposable {
  return Object.assign(queue, { [Symbol.asyncDispose]: () => queue.close() });
}

async function waitForState(queue: JobQueue, name: string, id: string, state: JobState): Promise<void> {
  await waitFor(async () => (await queue.status(name, id))?.state === state, `job ${id} to be ${state}`);
}

async function waitFor(condition: () => Promise<boolean>, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
