import type { OutboxEvent } from '#platform/outbox/types.ts';

/** Wallet's outbox topics, written in the transaction that moves the coins; notifications' `outbox.ts` handles them. */
export const WALLET_EVENTS = {
  /** A post was bought: its seller hears of the sale. */
  purchased: 'wallet.purchased',
} as const;

export type PurchasedEvent = { purchaseId: string; postId: string; buyerId: string; sellerId: string; priceCoins: number };

/** Keyed by nothing: each purchase has one event, and sales need no order. */
export const purchasedEvent = (payload: PurchasedEvent): OutboxEvent<PurchasedEvent> => ({ topic: WALLET_EVENTS.purchased, payload });
