import { defineJob, type AnyJobDefinition } from '#platform/queue/jobs.ts';
import { CLOSE_WINDOW_JOB, SEND_PUSH_JOB, type CloseWindowJob, type PushService, type SendJob } from './service.ts';

export const CLOSE_OVERDUE_WINDOWS_JOB = 'push.close-overdue-windows';

/** Pushes are network waits, not work: several at once per process. */
const SEND_CONCURRENCY = 16;

/** Push's jobs: sending each push, closing coalescing windows, and closing those whose job was lost. */
export function pushJobs(push: Pick<PushService, 'send' | 'closeWindow' | 'closeOverdueWindows'>, everyMs: number): AnyJobDefinition[] {
  return [
    defineJob<SendJob>({ name: SEND_PUSH_JOB, concurrency: SEND_CONCURRENCY, handler: (job) => push.send(job) }),
    defineJob<CloseWindowJob>({ name: CLOSE_WINDOW_JOB, concurrency: 4, handler: (job) => push.closeWindow(job) }),
    defineJob({ name: CLOSE_OVERDUE_WINDOWS_JOB, everyMs, handler: () => push.closeOverdueWindows() }),
  ];
}
