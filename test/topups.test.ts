import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { sql } from 'kysely';
import { SETTLE_TOPUPS_JOB } from '../src/modules/wallet/jobs.ts';
import { appPerFile, startApp } from './helpers/app.ts';
import { assertProblem, publish, signUp, type TestSession } from './helpers/factories.ts';
import { client } from './helpers/http.ts';
import { ADMIN_EMAIL, assertLedgerHolds, deliver, paymentsEnv, signedEvent, startFakeStripe, type FakeSession } from './helpers/ledger.ts';
import { runJob } from './helpers/wait.ts';

const stripe = await startFakeStripe();
after(() => stripe.close());
const shared = appPerFile({ ...paymentsEnv(stripe.url), ADMIN_EMAILS: ADMIN_EMAIL });
const { api } = shared;
const as = (session: TestSession) => ({ token: session.accessToken });

const walletOf = async (user: TestSession) => (await api.get('/v1/wallet', as(user))).body as { balance: number; debt: number };
const statusOf = async (user: TestSession, topupId: string) => (await api.get(`/v1/wallet/topups/${topupId}`, as(user))).body.status as string;

/** Opens a top-up as `user`; answers it and the session the stand-in made for it. */
async function topUp(user: TestSession, packageId = 'coins-100'): Promise<{ id: string; coins: number; session: FakeSession }> {
  const answer = await api.post('/v1/wallet/topups', { packageId }, as(user));
  assert.equal(answer.status, 201, answer.text);
  const session = [...stripe.sessions.values()].find((item) => item.client_reference_id === answer.body.id) ?? assert.fail('no session made');
  return { id: answer.body.id, coins: answer.body.coins, session };
}

/** Pays the session at the stand-in and answers the events Stripe would send about it. */
function paid(session: FakeSession) {
  const object = { ...stripe.pay(session.id) };
  return { completed: signedEvent('checkout.session.completed', object), succeeded: signedEvent('checkout.session.async_payment_succeeded', object) };
}

const chargeOf = (session: FakeSession, fields: Record<string, unknown>) => ({ id: `ch_${session.id}`, object: 'charge', payment_intent: session.payment_intent, ...fields });

async function delivered(event: { body: string; signature: string }): Promise<void> {
  const answer = await deliver(api, event);
  assert.equal(answer.status, 200, answer.text);
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

describe('top-ups through Stripe Checkout', () => {
  test('a top-up opens one Checkout Session naming it, and shows its status to its owner only', async () => {
    const [user, other] = await Promise.all([signUp(api), signUp(api)]);
    const callsBefore = stripe.calls.length;
    const answer = await api.post('/v1/wallet/topups', { packageId: 'coins-550' }, as(user));
    assert.equal(answer.status, 201, answer.text);
    assert.deepEqual(Object.keys(answer.body).sort(), ['checkoutUrl', 'coins', 'id', 'status']);
    assert.equal(answer.body.status, 'pending');
    assert.equal(answer.body.coins, 550);
    const calls = stripe.calls.slice(callsBefore);
    assert.equal(calls.length, 1);
    const [call] = calls as [(typeof calls)[number]];
    assert.deepEqual([call.method, call.path, call.authorization], ['POST', '/v1/checkout/sessions', 'Bearer sk_test_plaza']);
    const id = answer.body.id as string;
    assert.ok(call.idempotencyKey?.includes(id), `idempotency key ${call.idempotencyKey}`);
    assert.deepEqual(
      {
        mode: call.form.mode,
        quantity: call.form['line_items[0][quantity]'],
        amount: call.form['line_items[0][price_data][unit_amount]'],
        currency: call.form['line_items[0][price_data][currency]'],
        reference: call.form.client_reference_id,
        metadata: call.form['metadata[topup_id]'],
      },
      { mode: 'payment', quantity: '1', amount: '999', currency: 'usd', reference: id, metadata: id },
    );
    for (const [field, result] of [['success_url', 'success'], ['cancel_url', 'cancel']] as const) {
      const url = new URL(call.form[field] as string);
      assert.equal(`${url.origin}${url.pathname}`, 'https://app.plaza.test/wallet/return');
      assert.deepEqual([url.searchParams.get('topup'), url.searchParams.get('result')], [id, result]);
    }
    const session = stripe.sessions.get([...stripe.sessions.keys()].at(-1) as string) as FakeSession;
    assert.equal(answer.body.checkoutUrl, session.url);

    const shown = await api.get(`/v1/wallet/topups/${id}`, as(user));
    assert.equal(shown.status, 200);
    assert.deepEqual({ ...shown.body, createdAt: typeof shown.body.createdAt }, { id, status: 'pending', coins: 550, createdAt: 'string' });
    assertProblem(await api.get(`/v1/wallet/topups/${id}`, as(other)), 404, 'not_found');
    assertProblem(await api.get('/v1/wallet/topups/nope', as(user)), 404, 'not_found');
    assert.deepEqual(await walletOf(user), { balance: 0, debt: 0 });
  });

  test('an unknown package is 400 and opens no session', async () => {
    const user = await signUp(api);
    const callsBefore = stripe.calls.length;
    for (const body of [{ packageId: 'coins-7' }, { packageId: '' }, {}, { packageId: 'coins-100', coins: 5 }]) {
      assertProblem(await api.post('/v1/wallet/topups', body, as(user)), 400, 'invalid_request');
    }
    assert.equal(stripe.calls.length, callsBefore);
  });

  test('without STRIPE_SECRET_KEY, top-ups and webhooks are 503 payments_unavailable', async () => {
    const bare = await startApp();
    try {
      const bareApi = client(bare);
      const user = await signUp(bareApi);
      assertProblem(await bareApi.post('/v1/wallet/topups', { packageId: 'coins-100' }, as(user)), 503, 'payments_unavailable');
      const event = signedEvent('checkout.session.completed', { id: 'cs_x', object: 'checkout.session', payment_status: 'paid' });
      assertProblem(await deliver(bareApi, event), 503, 'payments_unavailable');
    } finally {
      await bare.close();
    }
  });

  test('a paid session is credited exactly once, however its events are replayed, shuffled and raced', async () => {
    const users = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    const topups = await Promise.all(users.flatMap((user) => [topUp(user, 'coins-100'), topUp(user, 'coins-1200')]));
    // Each session's two crediting events, each delivered three times, all shuffled.
    const deliveries = shuffle(topups.flatMap(({ session }) => Object.values(paid(session)).flatMap((event) => [event, event, event])));
    const half = Math.floor(deliveries.length / 2);
    await Promise.all(deliveries.slice(0, half).map(delivered));
    for (const event of deliveries.slice(half)) await delivered(event);
    for (const user of users) {
      assert.deepEqual(await walletOf(user), { balance: 1300, debt: 0 });
      const lines = (await api.get('/v1/wallet/transactions', as(user))).body.items;
      assert.deepEqual(lines.map((line: any) => [line.type, line.amount]).sort(), [['topup', 100], ['topup', 1200]]);
    }
    for (const [index, { id }] of topups.entries()) assert.equal(await statusOf(users[Math.floor(index / 2)] as TestSession, id), 'credited');
    await assertLedgerHolds(shared.testApp);
  });

  test('forged, stale and re-signed deliveries are 400 and change nothing', async () => {
    const user = await signUp(api);
    const { id, session } = await topUp(user);
    const good = paid(session).completed;
    const now = Math.floor(Date.now() / 1000);
    const object = stripe.sessions.get(session.id);
    const forgeries = [
      { body: good.body.replace('"paid"', '"paid" '), signature: good.signature },
      signedEvent('checkout.session.completed', object, { timestamp: now - 600 }),
      signedEvent('checkout.session.completed', object, { secret: 'whsec_someone_else' }),
      { body: good.body, signature: 't=1,v1=00' },
      { body: good.body, signature: '' },
    ];
    for (const forged of forgeries) assertProblem(await deliver(api, forged), 400, 'invalid_request');
    const unsigned = await api.call('POST', '/v1/payments/webhooks/stripe', { raw: good.body, headers: { 'content-type': 'application/json' } });
    assertProblem(unsigned, 400, 'invalid_request');
    assert.deepEqual(await walletOf(user), { balance: 0, debt: 0 });
    assert.equal(await statusOf(user, id), 'pending');
    await assertLedgerHolds(shared.testApp);
    // The genuine delivery, once the forgeries are turned away, still credits.
    await delivered(good);
    assert.deepEqual(await walletOf(user), { balance: 100, debt: 0 });
  });

  test('an expired or failed session marks the top-up failed; an unpaid completion and unknown events change nothing', async () => {
    const user = await signUp(api);
    const expiring = await topUp(user);
    const expired = signedEvent('checkout.session.expired', stripe.expire(expiring.session.id));
    await delivered(expired);
    await delivered(expired);
    assert.equal(await statusOf(user, expiring.id), 'failed');

    const asynchronous = await topUp(user);
    await delivered(signedEvent('checkout.session.completed', { ...asynchronous.session, status: 'complete', payment_status: 'unpaid' }));
    assert.equal(await statusOf(user, asynchronous.id), 'pending');
    await delivered(signedEvent('checkout.session.async_payment_failed', asynchronous.session));
    assert.equal(await statusOf(user, asynchronous.id), 'failed');

    await delivered(signedEvent('customer.created', { id: 'cus_1', object: 'customer' }));
    await delivered(signedEvent('charge.refunded', { id: 'ch_unknown', object: 'charge', payment_intent: 'pi_unknown', refunded: true }));
    assert.deepEqual(await walletOf(user), { balance: 0, debt: 0 });
    await assertLedgerHolds(shared.testApp);
  });

  test('a refund after spending empties the wallet and books the rest as debt, which blocks buying and is repaid first', async () => {
    const [buyer, seller] = await Promise.all([signUp(api), signUp(api)]);
    const first = await topUp(buyer);
    await delivered(paid(first.session).completed);
    const post = await publish(api, seller, { text: 'sixty coins', priceCoins: 60 });
    assert.equal((await api.post(`/v1/posts/${post.id}/purchase`, undefined, as(buyer))).status, 201);
    assert.deepEqual(await walletOf(buyer), { balance: 40, debt: 0 });

    // A partial refund leaves the coins; a full one takes them all back, once.
    await delivered(signedEvent('charge.refunded', chargeOf(first.session, { refunded: false, amount_refunded: 50 })));
    assert.deepEqual(await walletOf(buyer), { balance: 40, debt: 0 });
    const refund = signedEvent('charge.refunded', chargeOf(first.session, { refunded: true, amount_refunded: 199 }));
    await Promise.all([delivered(refund), delivered(refund), delivered(refund)]);
    assert.deepEqual(await walletOf(buyer), { balance: 0, debt: 60 });
    assert.equal(await statusOf(buyer, first.id), 'refunded');
    const [line] = (await api.get('/v1/wallet/transactions', as(buyer))).body.items;
    assert.deepEqual([line.type, line.amount, line.balanceAfter], ['refund', -40, 0]);
    // The crediting event again, after the refund, credits nothing.
    await delivered(signedEvent('checkout.session.completed', stripe.sessions.get(first.session.id)));
    assert.deepEqual(await walletOf(buyer), { balance: 0, debt: 60 });
    await assertLedgerHolds(shared.testApp);

    const other = await publish(api, seller, { text: 'one coin', priceCoins: 1 });
    assertProblem(await api.post(`/v1/posts/${other.id}/purchase`, undefined, as(buyer)), 402, 'wallet_in_debt');

    const second = await topUp(buyer);
    await delivered(paid(second.session).completed);
    assert.deepEqual(await walletOf(buyer), { balance: 40, debt: 0 });
    assert.equal((await api.post(`/v1/posts/${other.id}/purchase`, undefined, as(buyer))).status, 201);

    // A dispute won changes nothing; one lost takes the coins back like a refund.
    const dispute = (status: string) => signedEvent('charge.dispute.closed', { id: `dp_${status}`, object: 'dispute', payment_intent: second.session.payment_intent, status });
    await delivered(dispute('won'));
    assert.deepEqual(await walletOf(buyer), { balance: 39, debt: 0 });
    await delivered(dispute('lost'));
    assert.deepEqual(await walletOf(buyer), { balance: 0, debt: 61 });
    assert.equal(await statusOf(buyer, second.id), 'refunded');
    await assertLedgerHolds(shared.testApp);
  });

  test('a refund that comes before the payment’s own event takes the coins back once; the late event then credits nothing', async () => {
    const buyer = await signUp(api);
    const early = await topUp(buyer);
    const { completed } = paid(early.session);
    const refund = signedEvent('charge.refunded', chargeOf(early.session, { refunded: true, amount_refunded: 199 }));
    await Promise.all([delivered(refund), delivered(refund)]);
    assert.equal(await statusOf(buyer, early.id), 'refunded');
    assert.deepEqual(await walletOf(buyer), { balance: 0, debt: 0 });
    await Promise.all([delivered(completed), delivered(completed)]);
    assert.deepEqual(await walletOf(buyer), { balance: 0, debt: 0 });
    const lines = (await api.get('/v1/wallet/transactions', as(buyer))).body.items.map((line: any) => [line.type, line.amount]);
    assert.deepEqual(lines, [['refund', -100], ['topup', 100]]);
    await assertLedgerHolds(shared.testApp);
  });

  test('the settlement job credits a paid top-up whose webhook never came, and fails an expired one', async () => {
    const user = await signUp(api);
    const [unheard, expiring, young, unopened] = [await topUp(user), await topUp(user), await topUp(user), await topUp(user)];
    stripe.pay(unheard.session.id);
    stripe.expire(expiring.session.id);
    stripe.pay(young.session.id);
    const db = shared.testApp.deps.database.db;
    // As if made ten minutes ago; one of them as if the server had stopped before Stripe answered.
    await sql`update wallet_topups set created_at = created_at - interval '10 minutes' where id in (${unheard.id}, ${expiring.id}, ${unopened.id})`.execute(db);
    await sql`update wallet_topups set stripe_session_id = null where id = ${unopened.id}`.execute(db);
    await runJob(shared.testApp, SETTLE_TOPUPS_JOB);
    assert.deepEqual(
      [await statusOf(user, unheard.id), await statusOf(user, expiring.id), await statusOf(user, young.id), await statusOf(user, unopened.id)],
      ['credited', 'failed', 'pending', 'failed'],
    );
    assert.deepEqual(await walletOf(user), { balance: 100, debt: 0 });
    // The webhook, late, and the job again: no second credit.
    await delivered(signedEvent('checkout.session.completed', stripe.sessions.get(unheard.session.id)));
    await runJob(shared.testApp, SETTLE_TOPUPS_JOB);
    assert.deepEqual(await walletOf(user), { balance: 100, debt: 0 });
    await assertLedgerHolds(shared.testApp);
  });
});
