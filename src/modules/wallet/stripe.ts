import Stripe from 'stripe';
import type { StripeConfig } from '../../config.ts';

/** How stale a signed webhook may be (Stripe's own default): older ones are refused as replays. */
const WEBHOOK_TOLERANCE_SECONDS = 300;

/** What Plaza reads of a Checkout Session. */
export type CheckoutSession = {
  id: string;
  url: string | null;
  /** `open`, `complete` or `expired`. */
  status: string | null;
  paid: boolean;
  paymentIntentId: string | null;
};

export type SessionRequest = { topupId: string; coins: number; amount: number; currency: string };

/** The payment events Plaza acts on, read from a verified webhook; anything else is `ignored`. */
export type PaymentEvent = { id: string; type: string } & (
  | { action: 'credit' | 'fail'; sessionId: string; paymentIntentId: string | null }
  | { action: 'take_back'; paymentIntentId: string }
  | { action: 'ignored' }
);

/** Stripe, as top-ups use it: Checkout Sessions out, signed events in. */
export type PaymentsGateway = {
  openSession(request: SessionRequest): Promise<CheckoutSession>;
  retrieveSession(id: string): Promise<CheckoutSession>;
  /** The Checkout Session that took this payment, if one did. */
  sessionOfPayment(paymentIntentId: string): Promise<CheckoutSession | undefined>;
  /** The event in `payload` if `signature` (Stripe-Signature) signs it with the endpoint's secret, recently; else throws. */
  verifyEvent(payload: Buffer, signature: string): PaymentEvent;
};

export function createStripeGateway(config: StripeConfig): PaymentsGateway {
  const stripe = new Stripe(config.secretKey, {
    ...config.api,
    // Safe to retry: every creation carries an idempotency key.
    maxNetworkRetries: 2,
    timeout: 10_000,
    telemetry: false,
  });
  const returnTo = (topupId: string, result: 'success' | 'cancel') => {
    const url = new URL(config.returnUrl);
    url.searchParams.set('topup', topupId);
    url.searchParams.set('result', result);
    return url.toString();
  };
  return {
    async openSession(request) {
      const session = await stripe.checkout.sessions.create(
        {
          mode: 'payment',
          line_items: [
            { quantity: 1, price_data: { currency: request.currency, unit_amount: request.amount, product_data: { name: `${request.coins} coins` } } },
          ],
          client_reference_id: request.topupId,
          metadata: { topup_id: request.topupId },
          payment_intent_data: { metadata: { topup_id: request.topupId } },
          success_url: returnTo(request.topupId, 'success'),
          cancel_url: returnTo(request.topupId, 'cancel'),
        },
        // A retried call (ours, or the client's own retries) gets the first session back, not a second one.
        { idempotencyKey: `plaza-topup-${request.topupId}` },
      );
      return sessionOf(session);
    },
    async retrieveSession(id) {
      return sessionOf(await stripe.checkout.sessions.retrieve(id));
    },
    async sessionOfPayment(paymentIntentId) {
      const { data } = await stripe.checkout.sessions.list({ payment_intent: paymentIntentId, limit: 1 });
      return data[0] === undefined ? undefined : sessionOf(data[0]);
    },
    verifyEvent(payload, signature) {
      return paymentEventOf(stripe.webhooks.constructEvent(payload, signature, config.webhookSecret, WEBHOOK_TOLERANCE_SECONDS));
    },
  };
}

const idOf = (value: string | { id: string } | null | undefined): string | null => (value == null ? null : typeof value === 'string' ? value : value.id);

function sessionOf(session: Stripe.Checkout.Session): CheckoutSession {
  return {
    id: session.id,
    url: session.url,
    status: session.status,
    paid: session.payment_status === 'paid',
    paymentIntentId: idOf(session.payment_intent),
  };
}

function paymentEventOf(event: Stripe.Event): PaymentEvent {
  const base = { id: event.id, type: event.type };
  switch (event.type) {
    case 'checkout.session.completed':
      // An asynchronous payment method completes unpaid: its outcome is a later event.
      if (event.data.object.payment_status !== 'paid') return { ...base, action: 'ignored' };
      return { ...base, action: 'credit', sessionId: event.data.object.id, paymentIntentId: idOf(event.data.object.payment_intent) };
    case 'checkout.session.async_payment_succeeded':
      return { ...base, action: 'credit', sessionId: event.data.object.id, paymentIntentId: idOf(event.data.object.payment_intent) };
    case 'checkout.session.expired':
    case 'checkout.session.async_payment_failed':
      return { ...base, action: 'fail', sessionId: event.data.object.id, paymentIntentId: null };
    case 'charge.refunded': {
      // A partial refund leaves the coins: which of them it covers is the operator's call.
      const paymentIntentId = idOf(event.data.object.payment_intent);
      return event.data.object.refunded && paymentIntentId !== null ? { ...base, action: 'take_back', paymentIntentId } : { ...base, action: 'ignored' };
    }
    case 'charge.dispute.closed': {
      const paymentIntentId = idOf(event.data.object.payment_intent);
      return event.data.object.status === 'lost' && paymentIntentId !== null ? { ...base, action: 'take_back', paymentIntentId } : { ...base, action: 'ignored' };
    }
    default:
      return { ...base, action: 'ignored' };
  }
}
