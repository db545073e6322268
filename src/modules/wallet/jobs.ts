import { defineJob, type AnyJobDefinition } from '#platform/queue/jobs.ts';
import type { TopupsService } from './topups.ts';

export const SETTLE_TOPUPS_JOB = 'wallet.settle-topups';

/** Asks Stripe, every `everyMs`, about top-ups whose webhook has not come (Stripe retries for days, but endpoints go down). */
export function walletJobs(topups: Pick<TopupsService, 'settlePending'>, everyMs: number): AnyJobDefinition[] {
  return [defineJob({ name: SETTLE_TOPUPS_JOB, everyMs, handler: () => topups.settlePending() })];
}
