import assert from 'node:assert/strict';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import webpush from 'web-push';
import { sql } from 'kysely';
import { loadConfig } from '../src/config.ts';
import { CLOSE_OVERDUE_WINDOWS_JOB } from '../src/modules/push/jobs.ts';
import { SEND_PUSH_JOB } from '../src/modules/push/service.ts';
import { MAX_POST_GRAPHEMES } from '../src/modules/posts/schemas.ts';
import { assertProblem, follow, publish, signUp, type TestSession } from './helpers/factories.ts';
import { startApp } from './helpers/app.ts';
import { client } from './helpers/http.ts';
import { ADMIN_EMAIL, grant, signUpAdmin } from './helpers/ledger.ts';
import { uploadAndSettle } from './helpers/media.ts';
import { imageSample } from './helpers/media-samples.ts';
import { startPushService, type PushService, type ReceivedPush } from './helpers/push-service.ts';
import { serverStorage, startServer, type ServerProcess, type ServerStorage } from './helpers/server-process.ts';
import { eventually, runJob } from './helpers/wait.ts';

/**
 * Web Push against a real protocol peer: a push service on https://127.0.0.1 (see
 * `push-service.ts`) that checks each push's VAPID JWT and decrypts its payload with the keys a
 * browser would hold. Plaza runs as its own process: it trusts the service's test certificate
 * authority the one way an operator's server would, NODE_EXTRA_CA_CERTS. The push service's origin is
 * set as internal (PUSH_INTERNAL_ORIGINS), the way an operator allows a push service on their own
 * network: any other loopback or private endpoint is refused.
 */

const COALESCE_SECONDS = 2;
const SUBJECT = 'mailto:push-tests@plaza.social';

let pushService: PushService;
let storage: ServerStorage;
let server: ServerProcess;
let env: Record<string, string>;
const api = client(async () => server.url);
const as = (session: TestSession) => ({ token: session.accessToken });
/** The embedded profile makes its own key pair; with DATABASE_URL the keys must be given. */
const servicesProfile = () => storage.env.DATABASE_URL !== undefined;

before(async () => {
  [pushService, storage] = await Promise.all([startPushService(), serverStorage()]);
  env = {
    ...storage.env,
    NODE_EXTRA_CA_CERTS: pushService.caFile,
    PUSH_INTERNAL_ORIGINS: pushService.origin,
    PUSH_COALESCE_SECONDS: String(COALESCE_SECONDS),
    VAPID_SUBJECT: SUBJECT,
    ADMIN_EMAILS: ADMIN_EMAIL,
  };
  if (servicesProfile()) {
    const keys = webpush.generateVAPIDKeys();
    Object.assign(env, { VAPID_PUBLIC_KEY: keys.publicKey, VAPID_PRIVATE_KEY: keys.privateKey });
  }
  server = await startServer(env);
});

after(async () => {
  await server?.stop();
  await Promise.all([pushService?.close(), storage?.release()]);
});

/** Resolves once the outbox and every push job are done, as /metrics counts them. */
async function pushIdle(): Promise<void> {
  await eventually(async () => {
    const metrics = (await api.get('/metrics')).text;
    assert.match(metrics, /^outbox_backlog(\{[^}]*\})? 0$/m, 'outbox events left');
    const busy = [...metrics.matchAll(/^jobs\{(.*)\} (\d+)$/gm)].filter(
      ([, labels = '', count]) => /name="push\./.test(labels) && /state="(waiting|delayed|active)"/.test(labels) && count !== '0',
    );
    assert.deepEqual(busy.map(([line]) => line), [], 'push jobs left');
  }, 20_000);
}

async function subscribed(user: TestSession) {
  const subscription = pushService.subscribe();
  const answer = await api.post('/v1/push/subscriptions', subscription.json, as(user));
  assert.equal(answer.status, 201, answer.text);
  assert.equal(answer.body.endpoint, subscription.endpoint);
  return subscription;
}

/** The pushes at `endpoint` once there are `count`, each well made (verified JWT, decrypted payload). */
async function pushesAt(endpoint: string, count: number): Promise<ReceivedPush[]> {
  const pushes = await eventually(async () => {
    const received = pushService.received(endpoint);
    assert.ok(received.length >= count, `${received.length} of ${count} pushes so far`);
    return received;
  }, 15_000);
  for (const push of pushes) assert.deepEqual(push.problems, []);
  return pushes;
}

const like = async (who: TestSession, postId: string) => assert.equal((await api.put(`/v1/posts/${postId}/like`, undefined, as(who))).status, 204);

async function servedKey(): Promise<string> {
  const answer = await api.get('/v1/push/vapid-key');
  assert.equal(answer.status, 200, answer.text);
  return answer.body.publicKey;
}

async function latestNotification(user: TestSession) {
  const items = (await api.get('/v1/notifications', as(user))).body.items;
  assert.ok(items.length > 0, 'a notification was made');
  return items[0];
}

describe('the VAPID key', () => {
  test('is served to anyone: a P-256 public key, which every push is signed with', async () => {
    const publicKey = await servedKey();
    const point = Buffer.from(publicKey, 'base64url');
    assert.equal(point.length, 65);
    assert.equal(point[0], 4);
    if (servicesProfile()) assert.equal(publicKey, env.VAPID_PUBLIC_KEY);
  });

  test('embedded: made once, kept under DATA_DIR for the server alone, the same after a restart', async (t) => {
    if (servicesProfile()) return t.skip('with DATABASE_URL the keys are given');
    const file = join(storage.env.DATA_DIR as string, 'vapid-keys.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const before = await servedKey();
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).publicKey, before);
    await server.stop();
    server = await startServer(env);
    assert.equal(await servedKey(), before);
  });
});

describe('a push for each notification', () => {
  test('a like: the decrypted payload is the notification, low urgency, a TTL of 6 hours', async () => {
    const [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
    const browser = await subscribed(alice);
    const post = await publish(api, alice, 'a post to like');
    await like(bob, post.id);
    const [push] = await pushesAt(browser.endpoint, 1);
    const notification = await latestNotification(alice);
    assert.equal(push?.vapidKey, await servedKey());
    assert.deepEqual(push?.payload, {
      id: notification.id,
      type: 'like',
      actor: { id: bob.user.id, handle: bob.user.handle, name: bob.user.name },
      post: { id: post.id, text: 'a post to like' },
      createdAt: notification.createdAt,
      count: 1,
    });
    assert.equal(push?.urgency, 'low');
    assert.ok(Number(push?.ttl) <= 21_600 && Number(push?.ttl) > 21_000, `TTL ${push?.ttl}`);
  });

  test('a follow: normal urgency, a TTL of a day, no post', async () => {
    const [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
    const browser = await subscribed(alice);
    await follow(api, bob, alice);
    const [push] = await pushesAt(browser.endpoint, 1);
    assert.equal(push?.payload.type, 'follow');
    assert.equal(push?.payload.id, (await latestNotification(alice)).id);
    assert.equal(push?.payload.actor.handle, bob.user.handle);
    assert.equal(push?.payload.post, undefined);
    assert.equal(push?.urgency, 'normal');
    assert.ok(Number(push?.ttl) > 86_000, `TTL ${push?.ttl}`);
  });

  test('a purchase: high urgency, a TTL of a day', async () => {
    const [seller, buyer, operator] = await Promise.all([signUp(api), signUp(api), signUpAdmin(api)]);
    await grant(api, operator, buyer, 20);
    const browser = await subscribed(seller);
    const media = await uploadAndSettle(api, seller.accessToken, await imageSample('png'));
    const post = await publish(api, seller, { text: 'for 5 coins', mediaIds: [media.id], priceCoins: 5 });
    assert.equal((await api.post(`/v1/posts/${post.id}/purchase`, undefined, as(buyer))).status, 201);
    const [push] = await pushesAt(browser.endpoint, 1);
    assert.equal(push?.payload.type, 'purchase');
    assert.equal(push?.payload.actor.handle, buyer.user.handle);
    assert.equal(push?.payload.post.id, post.id);
    assert.equal(push?.urgency, 'high');
    assert.ok(Number(push?.ttl) > 86_000, `TTL ${push?.ttl}`);
  });

  test('a long post: the payload is cut short, its encrypted body under 4 KB', async () => {
    const [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
    const browser = await subscribed(alice);
    // Quotes and backslashes take two bytes in JSON, an emoji four in UTF-8.
    const text = '"é\\😀'.repeat(MAX_POST_GRAPHEMES / 4);
    const post = await publish(api, alice, text);
    await like(bob, post.id);
    const [push] = await pushesAt(browser.endpoint, 1);
    assert.ok((push?.bodyBytes ?? Infinity) < 4096, `${push?.bodyBytes} bytes`);
    assert.ok(push?.payload.post.text.endsWith('…'));
    assert.ok(text.startsWith(push?.payload.post.text.slice(0, -1)), 'a prefix of the text, not cut inside a character');
  });
});

describe("what a push service answers", () => {
  for (const status of [404, 410]) {
    test(`${status} removes the subscription; the user's other browsers still get pushes`, async () => {
      const [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
      const gone = await subscribed(alice);
      const kept = await subscribed(alice);
      pushService.answer(gone.endpoint, { status });
      const [first, second] = [await publish(api, alice, 'one'), await publish(api, alice, 'two')];
      await like(bob, first.id);
      await pushesAt(gone.endpoint, 1);
      await pushesAt(kept.endpoint, 1);
      await pushIdle();
      await like(bob, second.id);
      await pushesAt(kept.endpoint, 2);
      await pushIdle();
      assert.equal(pushService.received(gone.endpoint).length, 1, 'nothing more was sent to it');
    });
  }

  test('429 with Retry-After: tried again after that long', async () => {
    const [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
    const browser = await subscribed(alice);
    pushService.answer(browser.endpoint, { status: 429, headers: { 'retry-after': '2' } });
    await like(bob, (await publish(api, alice, 'busy service')).id);
    const [refused, delivered] = await pushesAt(browser.endpoint, 2);
    assert.equal(refused?.answered, 429);
    assert.equal(delivered?.answered, 201);
    assert.ok((delivered?.at ?? 0) - (refused?.at ?? 0) >= 1900, `retried after ${(delivered?.at ?? 0) - (refused?.at ?? 0)} ms`);
    assert.deepEqual(delivered?.payload, refused?.payload);
  });

  test('500: tried again with backoff, until delivered', async () => {
    const [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
    const browser = await subscribed(alice);
    pushService.answer(browser.endpoint, { status: 500 }, { status: 503 });
    await like(bob, (await publish(api, alice, 'flaky service')).id);
    const pushes = await pushesAt(browser.endpoint, 3);
    assert.deepEqual(pushes.map((push) => push.answered), [500, 503, 201]);
    await pushIdle();
    assert.equal(pushService.received(browser.endpoint).length, 3);
  });

  test('another 4xx (403: not our key) removes it; 408 is tried again', async () => {
    const [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
    const refused = await subscribed(alice);
    const slow = await subscribed(alice);
    pushService.answer(refused.endpoint, { status: 403 });
    pushService.answer(slow.endpoint, { status: 408 });
    const [first, second] = [await publish(api, alice, 'one'), await publish(api, alice, 'two')];
    await like(bob, first.id);
    await pushesAt(slow.endpoint, 2);
    await pushIdle();
    await like(bob, second.id);
    await pushesAt(slow.endpoint, 3);
    await pushIdle();
    assert.equal(pushService.received(refused.endpoint).length, 1);
  });
});

describe('coalescing', () => {
  test('a burst of likes on one post: one push now, one with the count when the window closes, then none', async () => {
    const alice = await signUp(api);
    const likers = await Promise.all(Array.from({ length: 6 }, () => signUp(api)));
    const browser = await subscribed(alice);
    const post = await publish(api, alice, 'liked by many');
    await Promise.all(likers.map((liker) => like(liker, post.id)));
    const [now, closing] = await pushesAt(browser.endpoint, 2);
    assert.equal(now?.payload.count, 1);
    assert.equal(closing?.payload.count, 5);
    assert.equal(closing?.payload.post.id, post.id);
    assert.ok((closing?.at ?? 0) - (now?.at ?? 0) >= COALESCE_SECONDS * 1000 - 300, 'the count waits for the window to close');
    const notified = new Set((await api.get('/v1/notifications?limit=100', as(alice))).body.items.map((item: { id: string }) => item.id));
    assert.equal(notified.size, 6, 'each like is still its own notification');
    assert.ok(notified.has(now?.payload.id) && notified.has(closing?.payload.id));
    await pushIdle();
    assert.equal(pushService.received(browser.endpoint).length, 2);
  });

  test('other posts and other types are not held by that window', async () => {
    const [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
    const browser = await subscribed(alice);
    const [first, second] = [await publish(api, alice, 'one'), await publish(api, alice, 'two')];
    await like(bob, first.id);
    await like(bob, second.id);
    await follow(api, bob, alice);
    const pushes = await pushesAt(browser.endpoint, 3);
    assert.deepEqual(pushes.map((push) => `${push.payload.type} ${push.payload.post?.id ?? ''}`).sort(), [`follow `, `like ${first.id}`, `like ${second.id}`].sort());
    assert.ok(pushes.every((push) => push.payload.count === 1));
  });
});

describe('subscriptions', () => {
  test('a bad subscription is 400, says what is wrong, and stores nothing', async () => {
    const [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
    const good = pushService.subscribe();
    const { keys } = good.json;
    const offCurve = Buffer.from(keys.p256dh, 'base64url');
    offCurve[64] = (offCurve[64] ?? 0) ^ 1;
    const cases: [string, unknown, string][] = [
      ['http endpoint', { ...good.json, endpoint: good.endpoint.replace('https:', 'http:') }, '/endpoint'],
      ['not a URL', { ...good.json, endpoint: 'https://' }, '/endpoint'],
      ['credentials', { ...good.json, endpoint: good.endpoint.replace('https://', 'https://user:pw@') }, '/endpoint'],
      ['loopback, not internal', { ...good.json, endpoint: 'https://127.0.0.2:8443/push/x' }, '/endpoint'],
      ['private address', { ...good.json, endpoint: 'https://10.1.2.3/push/x' }, '/endpoint'],
      ['localhost', { ...good.json, endpoint: 'https://push.localhost/x' }, '/endpoint'],
      ['too long', { ...good.json, endpoint: `${good.endpoint}/${'x'.repeat(1100)}` }, '/endpoint'],
      ['p256dh off the curve', { ...good.json, keys: { ...keys, p256dh: offCurve.toString('base64url') } }, '/keys/p256dh'],
      ['p256dh short', { ...good.json, keys: { ...keys, p256dh: keys.p256dh.slice(0, 40) } }, '/keys/p256dh'],
      ['p256dh compressed', { ...good.json, keys: { ...keys, p256dh: Buffer.concat([Buffer.from([2]), Buffer.from(keys.p256dh, 'base64url').subarray(1, 33)]).toString('base64url') } }, '/keys/p256dh'],
      ['auth not 16 bytes', { ...good.json, keys: { ...keys, auth: Buffer.alloc(12).toString('base64url') } }, '/keys/auth'],
      ['no keys', { endpoint: good.endpoint }, '/keys'],
      ['no endpoint', { keys }, '/endpoint'],
      ['no auth', { ...good.json, keys: { p256dh: keys.p256dh } }, '/keys/auth'],
      ['an unknown field', { ...good.json, extra: 1 }, ''],
    ];
    for (const [what, body, path] of cases) {
      const answer = await api.post('/v1/push/subscriptions', body, as(alice));
      assertProblem(answer, 400, 'invalid_request');
      assert.ok(answer.body.errors.some((error: { path: string }) => error.path.startsWith(path)), `${what}: ${answer.text}`);
    }
    const huge = await api.call('POST', '/v1/push/subscriptions', { ...as(alice), raw: JSON.stringify({ ...good.json, padding: 'x'.repeat(8000) }), headers: { 'content-type': 'application/json' } });
    assertProblem(huge, 413, 'payload_too_large');
    // Had any of them been stored, this like would have been pushed to the service's endpoint.
    await like(bob, (await publish(api, alice, 'no browser to push to')).id);
    await pushIdle();
    assert.equal(pushService.received(good.endpoint).length, 0);
  });

  test('DELETE removes the caller’s own only: another user’s endpoint is not theirs to delete', async () => {
    const [alice, bob, carol] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    const aliceBrowser = await subscribed(alice);
    const carolBrowser = await subscribed(carol);
    assert.equal((await api.delete('/v1/push/subscriptions', { endpoint: aliceBrowser.endpoint }, as(bob))).status, 204);
    assert.equal((await api.delete('/v1/push/subscriptions', { endpoint: carolBrowser.endpoint }, as(carol))).status, 204);
    await follow(api, bob, alice);
    await follow(api, bob, carol);
    await pushesAt(aliceBrowser.endpoint, 1);
    await pushIdle();
    assert.equal(pushService.received(carolBrowser.endpoint).length, 0);
    assertProblem(await api.delete('/v1/push/subscriptions', { endpoint: aliceBrowser.endpoint }), 401, 'unauthorized');
  });

  test('an endpoint moves to another user with its own keys (the same browser, signed in anew), never with other keys', async () => {
    const [alice, bob, carol] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    const browser = await subscribed(alice);
    const otherKeys = pushService.subscribe().json.keys;
    assertProblem(await api.post('/v1/push/subscriptions', { ...browser.json, keys: otherKeys }, as(bob)), 409, 'push_subscription_taken');
    await follow(api, carol, alice);
    await pushesAt(browser.endpoint, 1);
    assert.equal((await api.post('/v1/push/subscriptions', browser.json, as(bob))).status, 201);
    await follow(api, carol, bob);
    const pushes = await pushesAt(browser.endpoint, 2);
    assert.equal(pushes[1]?.payload.type, 'follow');
    await like(carol, (await publish(api, alice, 'alice no longer hears here')).id);
    await pushIdle();
    assert.equal(pushService.received(browser.endpoint).length, 2);
  });

  test('the same endpoint again takes the new keys; past 10 browsers the least recently registered goes', async () => {
    const [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
    const browsers = [];
    for (let i = 0; i < 10; i += 1) browsers.push(await subscribed(alice));
    const [first, second, ...rest] = browsers as [typeof browsers[0], typeof browsers[0]];
    // Registered again with new keys: the first is now the most recent, so the second goes for an 11th.
    assert.equal((await api.post('/v1/push/subscriptions', pushService.rekey(first.endpoint).json, as(alice))).status, 201);
    const eleventh = await subscribed(alice);
    await follow(api, bob, alice);
    // Each push decrypts (pushesAt checks it): the first's with its new keys.
    for (const kept of [first, ...rest, eleventh]) await pushesAt(kept.endpoint, 1);
    await pushIdle();
    assert.equal(pushService.received(second.endpoint).length, 0);
  });
});

describe('a window whose close job was lost', () => {
  test('is closed by the periodic check, its count pushed; long-closed empty ones are forgotten', async () => {
    const vapid = webpush.generateVAPIDKeys();
    // In this process, which does not trust the test CA: the push itself is not what is checked here.
    const testApp = await startApp({ VAPID_SUBJECT: SUBJECT, VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, PUSH_INTERNAL_ORIGINS: 'https://127.0.0.1:1' });
    after(() => testApp.close());
    const local = client(testApp);
    const [alice, bob] = await Promise.all([signUp(local), signUp(local)]);
    assert.equal((await local.post('/v1/push/subscriptions', { endpoint: 'https://127.0.0.1:1/push/lost', keys: pushService.subscribe().json.keys }, as(alice))).status, 201);
    const { db } = testApp.deps.database;
    // As a burst leaves a window when the process that held its close job stops (the in-process queue dies with it).
    const latest = { id: 'n1', type: 'follow', actor: { id: bob.user.id, handle: bob.user.handle, name: bob.user.name }, createdAt: new Date().toISOString(), count: 1 };
    await sql`insert into push_windows (user_id, type, subject_id, ends_at, held, latest) values
      (${alice.user.id}, 'follow', '', now() - interval '2 minutes', 4, ${JSON.stringify(latest)}::jsonb),
      (${bob.user.id}, 'follow', '', now() - interval '2 hours', 0, null)`.execute(db);
    const sendsBefore = await testApp.deps.queue.counts(SEND_PUSH_JOB);
    await runJob(testApp, CLOSE_OVERDUE_WINDOWS_JOB);
    await eventually(async () => {
      const { rows } = await sql<{ user_id: string; held: number }>`select user_id, held from push_windows`.execute(db);
      assert.deepEqual(rows, [{ user_id: alice.user.id, held: 0 }]);
      const sends = await testApp.deps.queue.counts(SEND_PUSH_JOB);
      const total = (counts: typeof sends) => Object.values(counts).reduce((sum, count) => sum + count, 0);
      // Its push is made (and, nothing listening there, tried again: more jobs follow it).
      assert.ok(total(sends) > total(sendsBefore), 'a push to her subscription');
    });
  });
});

describe('configuration', () => {
  const base = { DATA_DIR: '/nonexistent/plaza-push-config', JWT_SECRET: 'x'.repeat(40) };
  const problems = (more: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...more });
      return [];
    } catch (error) {
      return (error as { problems: string[] }).problems;
    }
  };

  test('a subject must be a real contact: placeholders and other schemes are refused, all at once', () => {
    for (const subject of ['mailto:admin@example.com', 'https://localhost', 'mailto:me@push.test', 'http://plaza.social', 'https://10.0.0.1', 'ops@plaza.social']) {
      assert.equal(problems({ VAPID_SUBJECT: subject }).filter((line) => line.startsWith('VAPID_SUBJECT')).length, 1, subject);
    }
    assert.equal(problems({ VAPID_SUBJECT: 'https://plaza.social/contact' }).length, 0);
    const keys = webpush.generateVAPIDKeys();
    const other = webpush.generateVAPIDKeys();
    assert.equal(problems({ VAPID_SUBJECT: SUBJECT, VAPID_PUBLIC_KEY: keys.publicKey }).length, 1, 'keys come as a pair');
    assert.equal(problems({ VAPID_SUBJECT: SUBJECT, VAPID_PUBLIC_KEY: keys.publicKey, VAPID_PRIVATE_KEY: other.privateKey }).length, 1, 'and must be one pair');
    assert.equal(problems({ VAPID_PUBLIC_KEY: keys.publicKey, VAPID_PRIVATE_KEY: keys.privateKey }).length, 1, 'a subject comes with keys');
    assert.equal(problems({ VAPID_SUBJECT: 'mailto:x@example.org', PUSH_COALESCE_SECONDS: 'soon', PUSH_INTERNAL_ORIGINS: 'http://10.0.0.5' }).length, 3);
  });

  test('several instances (DATABASE_URL) need the keys given; without a subject push is simply off', () => {
    const services = { DATABASE_URL: 'postgres://db.internal/plaza' };
    assert.match(problems({ ...services, VAPID_SUBJECT: SUBJECT }).join('\n'), /VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are required/);
    assert.deepEqual(loadConfig({ ...base, ...services, ADMIN_EMAILS: 'ops@plaza.social' }).push.vapid, { off: 'no VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY (with DATABASE_URL every instance needs the same pair)' });
    assert.ok('off' in loadConfig(base).push.vapid);
    assert.deepEqual(loadConfig({ ...base, ADMIN_EMAILS: 'ops@plaza.social' }).push.vapid, { subject: 'mailto:ops@plaza.social', keys: 'embedded' });
  });
});
