import { defineJob, type AnyJobDefinition } from '#platform/queue/jobs.ts';
import type { WalletService } from './service.ts';
import type { TopupsService } from './topups.ts';

export const SETTLE_TOPUPS_JOB = 'wallet.settle-topups';
export const SWEEP_IDEMPOTENCY_KEYS_JOB = 'wallet.sweep-idempotency-keys';

/** How often each periodic job runs. */
export type WalletJobIntervals = { settleTopupsMs: number; sweepIdempotencyKeysMs: number };

/**
 * Asks Stripe about top-ups whose webhook has not come (Stripe retries for days, but endpoints go
 * down), and forgets Idempotency-Keys past their 24 hours.
 */
export function walletJobs(
  deps: { topups: Pick<TopupsService, 'settlePending'>; wallet: Pick<WalletService, 'sweepIdempotencyKeys'> },
  every: WalletJobIntervals,
): AnyJobDefinition[] {
  return [
    defineJob({ name: SETTLE_TOPUPS_JOB, everyMs: every.settleTopupsMs, handler: () => deps.topups.settlePending() }),
    defineJob({ name: SWEEP_IDEMPOTENCY_KEYS_JOB, everyMs: every.sweepIdempotencyKeysMs, handler: async () => void (await deps.wallet.sweepIdempotencyKeys()) }),
  ];
}
