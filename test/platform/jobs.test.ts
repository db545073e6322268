import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineJob, runJobs } from '../../src/platform/queue/jobs.ts';
import { MemoryJobQueue } from '../../src/platform/queue/memory.ts';
import { createLogger } from '../../src/http/logging.ts';
import { startApp } from '../helpers/app.ts';
import { client } from '../helpers/http.ts';

const logger = createLogger('silent', undefined);

/** Resolves with the next `count` values passed to the returned `arrive`. */
function arrivals<T>(count: number): { arrive(value: T): void; all: Promise<T[]> } {
  const seen: T[] = [];
  let resolve!: (values: T[]) => void;
  const all = new Promise<T[]>((done) => (resolve = done));
  return {
    arrive(value) {
      seen.push(value);
      if (seen.length === count) resolve(seen);
    },
    all,
  };
}

describe('job definitions (runJobs)', () => {
  it('runs each job with its payload and its concurrency, and enqueues the periodic ones itself', async () => {
    const queue = new MemoryJobQueue();
    const greeted = arrivals<string>(1);
    const swept = arrivals<string>(2);
    // Two run at once only if the concurrency is honoured: each waits for the other to start.
    const started = arrivals<number>(2);
    const jobs = [
      defineJob<{ to: string }>({ name: 'test.greet', handler: async ({ to }) => greeted.arrive(to) }),
      defineJob<{ n: number }>({
        name: 'test.pair',
        concurrency: 2,
        handler: async ({ n }) => {
          started.arrive(n);
          await started.all;
        },
      }),
      defineJob({ name: 'test.sweep', everyMs: 20, handler: async (_payload, job) => swept.arrive(job.id) }),
    ];
    const running = runJobs(queue, jobs, logger);
    try {
      await queue.enqueue('test.greet', { to: 'Ada' });
      await Promise.all([queue.enqueue('test.pair', { n: 1 }), queue.enqueue('test.pair', { n: 2 })]);
      assert.deepEqual(await greeted.all, ['Ada']);
      assert.deepEqual((await started.all).sort(), [1, 2]);
      const periods = await swept.all;
      assert.ok(periods.every((id) => /^period-\d+$/.test(id)), 'one job per period');
      assert.notEqual(periods[0], periods[1]);
    } finally {
      running.stop();
      await queue.close();
    }
  });
});

describe('the app’s jobs', () => {
  it('are all listed by /metrics, whichever module declares them', async () => {
    const testApp = await startApp();
    try {
      const metrics = await client(testApp).get('/metrics');
      assert.equal(metrics.status, 200, metrics.text);
      const names = new Set([...metrics.text.matchAll(/^jobs\{name="([^"]+)",state="waiting"\}/gm)].map((match) => match[1]));
      const declared = ['media.process', 'media.processing-backlog', 'media.sweep', 'uploads.expire'];
      assert.deepEqual(declared.filter((name) => !names.has(name)), []);
    } finally {
      await testApp.close();
    }
  });
});
