import type { FastifyBaseLogger } from 'fastify';
import { defineOutboxHandler, type AnyOutboxHandler } from '#platform/outbox/types.ts';
import { WALLET_EVENTS, type PurchasedEvent } from './events.ts';

/**
 * Wallet's outbox handlers. A sale is, for now, a line in the operator's log (who sold what to whom,
 * for how much); notifications will tell the seller from this same event.
 */
export function walletOutboxHandlers(deps: { logger: FastifyBaseLogger }): AnyOutboxHandler[] {
  return [
    defineOutboxHandler<PurchasedEvent>({
      topic: WALLET_EVENTS.purchased,
      batchSize: 100,
      handle: async (sales) => {
        for (const sale of sales) deps.logger.info({ sale }, 'wallet: post sold');
      },
    }),
  ];
}
