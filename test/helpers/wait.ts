import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestApp } from './app.ts';
import { client } from './http.ts';

/** Waiting for what the app does in the background: polling, never a fixed sleep. */

const POLL_MS = 50;

/** Retries `check` until it stops throwing and returns what it returned; past `timeoutMs`, throws its last error. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(POLL_MS);
    }
  }
}

/** States of a job that still has work to do (a retry waiting for its backoff is `delayed`). */
const UNFINISHED = new Set(['waiting', 'delayed', 'active']);

/**
 * Resolves once the app's outbox has no event left to handle and no background job is waiting,
 * delayed or running, as `/metrics` counts them for every job the app runs. Await it before checking
 * that something did *not* happen: the handler or job that would have done it has finished by then.
 */
export async function jobsIdle(testApp: TestApp, timeoutMs = 10_000): Promise<void> {
  // First the outbox: its handlers may enqueue jobs.
  await testApp.deps.outbox.drained(timeoutMs);
  const api = client(testApp);
  await eventually(async () => {
    const metrics = await api.get('/metrics');
    assert.equal(metrics.status, 200, metrics.text);
    const lines = [...metrics.text.matchAll(/^jobs\{(.*)\} (\d+)$/gm)];
    assert.ok(lines.length > 0, 'the app reports its jobs');
    const unfinished = lines
      .filter(([, labels = '', count]) => count !== '0' && UNFINISHED.has(/state="(\w+)"/.exec(labels)?.[1] ?? ''))
      .map(([line]) => line);
    assert.deepEqual(unfinished, [], 'jobs still to run');
  }, timeoutMs);
}

/** Runs background job `name` now (as its schedule would) and waits for it to complete. */
export async function runJob(testApp: TestApp, name: string, payload: unknown = {}): Promise<void> {
  const id = await testApp.deps.queue.enqueue(name, payload);
  await eventually(async () => {
    const status = await testApp.deps.queue.status(name, id);
    assert.equal(status?.state, 'completed', JSON.stringify(status));
  }, 10_000);
}
