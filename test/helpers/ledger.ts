import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { ledgerBreaches } from '../../src/modules/wallet/store.ts';
import type { TestApp } from './app.ts';
import type { Answer, Client } from './http.ts';
import { signUp, type TestSession } from './factories.ts';

/** The check `plaza admin ledger check` runs, on the test app's database: it must find nothing. */
export async function assertLedgerHolds(testApp: TestApp): Promise<void> {
  assert.deepEqual(await ledgerBreaches(testApp.deps.database.db), [], 'the ledger check finds breaches');
}

/** An operator: an account whose email is the ADMIN_EMAILS the app was started with. */
export const ADMIN_EMAIL = 'operator@example.test';

export function signUpAdmin(api: Client): Promise<TestSession> {
  return signUp(api, { email: ADMIN_EMAIL });
}

/** Grants coins through the route; asserts the 201 and returns the transaction. */
export async function grant(api: Client, admin: TestSession, to: TestSession, coins: number, reason?: string): Promise<any> {
  const answer = await api.post('/v1/admin/grants', { handle: to.user.handle, coins, ...(reason !== undefined && { reason }) }, { token: admin.accessToken });
  assert.equal(answer.status, 201, answer.text);
  return answer.body.transaction;
}

/** The webhook signing secret the test apps are started with. */
export const WEBHOOK_SECRET = 'whsec_plaza_test_secret';

/** One Checkout Session as the stand-in keeps it: Stripe's fields that Plaza reads. */
export type FakeSession = {
  id: string;
  object: 'checkout.session';
  url: string;
  status: 'open' | 'complete' | 'expired';
  payment_status: 'paid' | 'unpaid';
  payment_intent: string | null;
  client_reference_id: string | null;
  metadata: Record<string, string>;
};

/** A call the Stripe client made: its form fields flattened (`line_items[0][price_data][currency]`). */
export type StripeCall = { method: string; path: string; idempotencyKey: string | undefined; authorization: string | undefined; form: Record<string, string> };

/**
 * The Stripe API's stand-in (as stripe-mock is used): a local HTTP server answering the Checkout
 * Session calls the stripe client makes — create (replaying the first answer for a repeated
 * Idempotency-Key, as Stripe does), retrieve, and list by payment intent. Sessions are changed by the test (`pay`, `expire`).
 */
export async function startFakeStripe(): Promise<{
  url: string;
  calls: StripeCall[];
  sessions: Map<string, FakeSession>;
  pay(sessionId: string): FakeSession;
  expire(sessionId: string): FakeSession;
  close(): Promise<void>;
}> {
  const calls: StripeCall[] = [];
  const sessions = new Map<string, FakeSession>();
  const byKey = new Map<string, string>();
  let made = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = new URL(request.url ?? '/', 'http://stripe.test').pathname;
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      const idempotencyKey = request.headers['idempotency-key'] as string | undefined;
      calls.push({ method: request.method ?? '', path, idempotencyKey, authorization: request.headers.authorization, form });
      const answer = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${calls.length}` });
        response.end(JSON.stringify(body));
      };
      if (request.method === 'POST' && path === '/v1/checkout/sessions') {
        const earlier = idempotencyKey === undefined ? undefined : byKey.get(idempotencyKey);
        if (earlier !== undefined) return answer(200, sessions.get(earlier));
        made += 1;
        const id = `cs_test_${made}_${randomBytes(6).toString('hex')}`;
        const session: FakeSession = {
          id, object: 'checkout.session', url: `https://checkout.stripe.test/c/pay/${id}`, status: 'open', payment_status: 'unpaid', payment_intent: null,
          client_reference_id: form.client_reference_id ?? null, metadata: { topup_id: form['metadata[topup_id]'] ?? '' },
        };
        sessions.set(id, session);
        if (idempotencyKey !== undefined) byKey.set(idempotencyKey, id);
        return answer(200, session);
      }
      if (request.method === 'GET' && path === '/v1/checkout/sessions') {
        const paymentIntent = new URL(request.url ?? '/', 'http://stripe.test').searchParams.get('payment_intent');
        const data = [...sessions.values()].filter((item) => paymentIntent === null || item.payment_intent === paymentIntent).slice(0, 1);
        return answer(200, { object: 'list', url: '/v1/checkout/sessions', has_more: false, data });
      }
      const retrieved = /^\/v1\/checkout\/sessions\/([\w-]+)$/.exec(path);
      const session = retrieved === null ? undefined : sessions.get(retrieved[1] as string);
      if (request.method === 'GET' && session !== undefined) return answer(200, session);
      answer(404, { error: { type: 'invalid_request_error', message: `No such route or object: ${request.method} ${path}` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const change = (sessionId: string, fields: Partial<FakeSession>): FakeSession => {
    const session = sessions.get(sessionId) ?? assert.fail(`no session ${sessionId}`);
    Object.assign(session, fields);
    return session;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    sessions,
    pay: (sessionId) => change(sessionId, { status: 'complete', payment_status: 'paid', payment_intent: `pi_${sessionId.slice(3)}` }),
    expire: (sessionId) => change(sessionId, { status: 'expired' }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The environment that points an app's payments at the stand-in. */
export const paymentsEnv = (stripeUrl: string): Record<string, string> => ({
  STRIPE_SECRET_KEY: 'sk_test_plaza',
  STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  STRIPE_API_URL: stripeUrl,
  PAYMENTS_RETURN_URL: 'https://app.plaza.test/wallet/return',
});

let events = 0;

/** A Stripe event around `object`, as its JSON body, signed by the real helper with `secret`, at `timestamp` (seconds). */
export function signedEvent(type: string, object: unknown, options: { id?: string; secret?: string; timestamp?: number } = {}): { id: string; body: string; signature: string } {
  events += 1;
  const id = options.id ?? `evt_test_${events}_${randomBytes(6).toString('hex')}`;
  const body = JSON.stringify({ id, object: 'event', type, api_version: '2025-01-01', created: Math.floor(Date.now() / 1000), data: { object } });
  const signature = webhookSigner.webhooks.generateTestHeaderString({
    payload: body,
    secret: options.secret ?? WEBHOOK_SECRET,
    ...(options.timestamp !== undefined && { timestamp: options.timestamp }),
  });
  return { id, body, signature };
}

const webhookSigner = new Stripe('sk_test_signer');

/** Delivers a signed event to the webhook route, as Stripe does. */
export function deliver(api: Client, event: { body: string; signature: string }): Promise<Answer> {
  return api.call('POST', '/v1/payments/webhooks/stripe', {
    raw: event.body,
    headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': event.signature },
  });
}
