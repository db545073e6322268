import type { FastifyBaseLogger } from 'fastify';
import type { JobQueue } from './types.ts';

/**
 * Enqueues job `name` once every `everyMs`. Each instance of a scaled-out deployment runs this
 * timer, and the job id names the period, so the queue keeps one job per period whoever enqueued it.
 */
export function schedulePeriodicJob(
  queue: JobQueue,
  name: string,
  everyMs: number,
  logger: FastifyBaseLogger,
): { stop(): void } {
  const enqueue = () => {
    const period = Math.floor(Date.now() / everyMs);
    queue.enqueue(name, {}, { jobId: `period-${period}`, attempts: 1 }).catch((error: unknown) => {
      logger.error({ err: error, job: name }, 'could not enqueue a periodic job');
    });
  };
  const timer = setInterval(enqueue, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
