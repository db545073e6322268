import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '#platform/db/database.ts';
import { AppError, errors } from '#http/errors.ts';
import { newId } from '#db/ids.ts';
import type { WalletConfig } from '../../config.ts';
import type { NewTopup, Topup } from './schemas.ts';
import * as store from './store.ts';
import type { EntryInput } from './store.ts';
import type { CheckoutSession, PaymentEvent, PaymentsGateway } from './stripe.ts';

export type TopupsService = ReturnType<typeof createTopupsService>;

/** A pending top-up this old is asked about at Stripe: its webhook may never come. */
export const SETTLE_AFTER_MS = 5 * 60_000;
/** Pending top-ups one settlement run asks about; the rest wait for the next run. */
const SETTLE_BATCH = 100;

const paymentErrors = {
  unavailable: (detail = 'Payments are not set up on this server (STRIPE_SECRET_KEY)') => new AppError(503, 'payments_unavailable', detail),
  badSignature: () =>
    errors.invalidRequest('The Stripe-Signature header does not sign this body with this endpoint’s secret within the last 5 minutes'),
};

/** The transaction found nothing to change: it is rolled back, so that the event is not recorded as acted on. */
class NothingToDo extends Error {}

const toTopup = (row: store.TopupRow): Topup => ({ id: row.id, status: row.status, coins: row.coins, createdAt: row.created_at.toISOString() });

/**
 * Coins bought through Stripe Checkout: a top-up row and its session, credited once when Stripe
 * says it is paid (a webhook, or the settlement job asking), taken back on a refund or a lost
 * dispute. Each change is one database transaction with its ledger entries and, for a webhook, the
 * event's id.
 */
export function createTopupsService(deps: { db: Database; config: WalletConfig; gateway: PaymentsGateway | undefined; logger: FastifyBaseLogger }) {
  const { db, config, gateway, logger } = deps;
  function configured(): PaymentsGateway {
    if (gateway === undefined) throw paymentErrors.unavailable();
    return gateway;
  }

  /** Runs `change` in one transaction with the event's id recorded (when there is an event): false when nothing changed. */
  async function once(event: { id: string; type: string } | undefined, change: (trx: Database, at: Date) => Promise<void>): Promise<boolean> {
    try {
      await db.transaction().execute(async (trx) => {
        const at = new Date();
        if (event !== undefined && !(await store.recordWebhookEvent(trx, event, at))) throw new NothingToDo();
        await change(trx, at);
      });
      return true;
    } catch (error) {
      if (error instanceof NothingToDo) return false;
      throw error;
    }
  }

  /** Credits a paid session's coins, repaying the owner's debt first; a top-up credited already is left as it is. */
  const credit = (sessionId: string, paymentIntentId: string | null, event?: PaymentEvent) =>
    once(event, async (trx, at) => {
      const topup = await store.lockCreditableTopup(trx, sessionId);
      if (topup === undefined) throw new NothingToDo();
      const userId = topup.user_id;
      const { debt } = await store.lockBalances(trx, userId);
      const repaid = Math.min(debt, topup.coins);
      const entries: EntryInput[] = [
        { account: { kind: 'payments_clearing' }, type: 'topup', amount: -topup.coins },
        ...(repaid > 0 ? [{ account: { kind: 'debt', userId }, type: 'debt', amount: repaid } as const] : []),
        ...(topup.coins > repaid ? [{ account: { kind: 'wallet', userId }, type: 'topup', amount: topup.coins - repaid } as const] : []),
      ];
      const transactionId = newId(at.getTime());
      await store.transfer(trx, { id: transactionId, kind: 'topup', at, entries });
      await store.markTopupCredited(trx, topup.id, transactionId, paymentIntentId);
    });

  /**
   * Takes a refunded or disputed top-up's coins back: from the wallet down to zero, the rest booked
   * as debt (coins spent already are not conjured back).
   */
  const takeBack = (paymentIntentId: string, event: PaymentEvent) =>
    once(event, async (trx, at) => {
      const topup = await store.lockRefundableTopup(trx, paymentIntentId);
      if (topup === undefined) throw new NothingToDo();
      const userId = topup.user_id;
      const { balance } = await store.lockBalances(trx, userId);
      const fromWallet = Math.min(balance, topup.coins);
      const entries: EntryInput[] = [
        { account: { kind: 'refunds' }, type: 'refund', amount: topup.coins },
        ...(fromWallet > 0 ? [{ account: { kind: 'wallet', userId }, type: 'refund', amount: -fromWallet } as const] : []),
        ...(topup.coins > fromWallet ? [{ account: { kind: 'debt', userId }, type: 'debt', amount: -(topup.coins - fromWallet) } as const] : []),
      ];
      const transactionId = newId(at.getTime());
      await store.transfer(trx, { id: transactionId, kind: 'refund', at, entries });
      await store.markTopupRefunded(trx, topup.id, transactionId);
    });

  const fail = (sessionId: string, event?: PaymentEvent) =>
    once(event, async (trx) => {
      if (!(await store.markTopupFailed(trx, { sessionId }))) throw new NothingToDo();
    });

  /**
   * A take-back that came before the payment's crediting event (Stripe does not order its events):
   * asks Stripe which session took the payment, settles that session's top-up as its own event
   * would have, then takes the coins back. False when no top-up of ours took this payment.
   */
  async function takeBackEarly(stripe: PaymentsGateway, event: PaymentEvent & { action: 'take_back' }): Promise<boolean> {
    let session: CheckoutSession | undefined;
    try {
      session = await stripe.sessionOfPayment(event.paymentIntentId);
    } catch (error) {
      // Answered 503, the delivery is retried by Stripe.
      logger.error({ err: error, event: event.id }, 'payments: could not ask Stripe which session took a refunded payment');
      throw paymentErrors.unavailable('Stripe could not be asked about this payment just now');
    }
    if (session === undefined) return false;
    await settle(session);
    return takeBack(event.paymentIntentId, event);
  }

  /** What a session's state means for its top-up, as the webhook would have said it. */
  async function settle(session: CheckoutSession): Promise<void> {
    if (session.status === 'complete' && session.paid) await credit(session.id, session.paymentIntentId);
    else if (session.status === 'expired') await fail(session.id);
  }

  return {
    async create(userId: string, input: NewTopup): Promise<{ id: string; status: 'pending'; coins: number; checkoutUrl: string }> {
      const stripe = configured();
      const offer = config.coinPackages.find((item) => item.id === input.packageId);
      if (offer === undefined) {
        throw errors.invalidRequest(`No coin package has the id "${input.packageId}": GET /v1/wallet/packages lists them`, [
          { path: '/packageId', message: 'is not a coin package' },
        ]);
      }
      const at = new Date();
      const row: store.TopupRow = {
        id: newId(at.getTime()), user_id: userId, package_id: offer.id, coins: offer.coins, amount: offer.amount, currency: offer.currency,
        status: 'pending', stripe_session_id: null, payment_intent_id: null, created_at: at, credited_transaction_id: null, refund_transaction_id: null,
      };
      await store.insertTopup(db, row);
      let session: CheckoutSession;
      try {
        session = await stripe.openSession({ topupId: row.id, coins: row.coins, amount: row.amount, currency: row.currency });
        if (session.url === null) throw new Error(`Checkout Session ${session.id} has no url`);
      } catch (error) {
        // Nobody was given a link to pay it: the top-up can only fail.
        logger.error({ err: error, topup: row.id }, 'payments: could not open a Checkout Session');
        await store.markTopupFailed(db, { id: row.id });
        throw paymentErrors.unavailable('Stripe could not open a checkout just now: try again in a moment');
      }
      await store.setTopupSession(db, row.id, session.id);
      return { id: row.id, status: 'pending', coins: row.coins, checkoutUrl: session.url };
    },

    /** The caller's own top-up; anyone else's is not found. */
    async get(userId: string, id: string): Promise<Topup> {
      const row = await store.findTopup(db, id);
      if (row === undefined || row.user_id !== userId) throw errors.notFound('top-up');
      return toTopup(row);
    },

    /** Acts on a signed webhook delivery, at most once per event and once per top-up, whatever the order. */
    async receiveWebhook(payload: unknown, signature: string | undefined): Promise<void> {
      const stripe = configured();
      if (!Buffer.isBuffer(payload) || signature === undefined) throw paymentErrors.badSignature();
      let event: PaymentEvent;
      try {
        event = stripe.verifyEvent(payload, signature);
      } catch {
        throw paymentErrors.badSignature();
      }
      if (event.action === 'credit') await credit(event.sessionId, event.paymentIntentId, event);
      else if (event.action === 'fail') await fail(event.sessionId, event);
      else if (event.action === 'take_back' && !(await takeBack(event.paymentIntentId, event)) && !(await takeBackEarly(stripe, event))) {
        logger.warn({ event: event.id, paymentIntent: event.paymentIntentId }, 'payments: a refund or lost dispute names no top-up of ours');
      }
    },

    /**
     * Settles pending top-ups older than SETTLE_AFTER_MS by asking Stripe for their sessions. One
     * that never got a session (the server stopped before Stripe answered) had no link to pay: it fails.
     */
    async settlePending(): Promise<void> {
      if (gateway === undefined) return;
      for (const row of await store.pendingTopups(db, new Date(Date.now() - SETTLE_AFTER_MS), SETTLE_BATCH)) {
        try {
          if (row.stripe_session_id === null) await store.markTopupFailed(db, { id: row.id });
          else await settle(await gateway.retrieveSession(row.stripe_session_id));
        } catch (error) {
          logger.error({ err: error, topup: row.id }, 'payments: could not settle a pending top-up');
        }
      }
    },
  };
}
