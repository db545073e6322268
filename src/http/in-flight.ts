import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const POLL_MS = 10;

/**
 * Counts requests that have started and not yet answered. Closing the server waits for open
 * connections only; a client that hung up leaves its handler (or a hook, such as an authentication
 * check run on `onRequest`) running, and shutdown must let it finish before the database goes away.
 */
export function trackHandlersInFlight(app: FastifyInstance): { drained(timeoutMs: number): Promise<void> } {
  const running = new WeakSet<FastifyRequest>();
  let count = 0;

  // Callback hooks: an async one costs every request a promise and a trip through the microtask queue.
  app.addHook('onRequest', (request, _reply, done) => {
    running.add(request);
    count += 1;
    done();
  });
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (running.delete(request)) count -= 1;
    done(null, payload);
  });

  return {
    /** Resolves once no handler runs, or when the time is up. */
    async drained(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (count > 0 && Date.now() < deadline) await sleep(POLL_MS);
    },
  };
}
