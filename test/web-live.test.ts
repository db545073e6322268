import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { freePort } from '../scripts/services/common.ts';
import { launchChromium, seriousAccessibilityViolations, skipWithoutChromium, startPlaza, type PlazaProcess } from './helpers/browser.ts';
import { eventually } from './helpers/wait.ts';
import { webClientBuilt } from './helpers/web-client.ts';

/**
 * Live events, notifications and Web Push in the web client, in a real browser against a real Plaza
 * (`npm start`'s command, embedded profile, push on): a post arriving live as "1 new post"; the unread
 * badge and the notifications page kept current by the stream; the unread filter and marking read;
 * the service worker served and registered; subscribing and unsubscribing; a Plaza without push.
 */

const PASSWORD = 'correct horse battery staple';
const json = { 'content-type': 'application/json' };

describe('live events, notifications and push in the web client', { skip: skipWithoutChromium() }, () => {
  let plaza: PlazaProcess;
  let browser: Browser;
  /** The only push service the server may send to: a loopback port where nothing listens, so nothing leaves the machine. */
  let pushOrigin: string;
  const refusals: string[] = [];

  before(async () => {
    await webClientBuilt();
    pushOrigin = `https://127.0.0.1:${await freePort()}`;
    plaza = await startPlaza({ VAPID_SUBJECT: 'mailto:live@plaza.social', PUSH_INTERNAL_ORIGINS: pushOrigin });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await plaza?.stop();
    assert.deepEqual(refusals, [], 'no CSP refusal, no page error');
  });

  async function newContext(options: Parameters<Browser['newContext']>[0] = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ baseURL: plaza.url, locale: 'en-US', ...options });
    const page = await context.newPage();
    page.on('console', (message) => message.text().includes('Content Security Policy') && refusals.push(message.text()));
    page.on('pageerror', (error) => refusals.push(`page error: ${error.message}`));
    return { context, page };
  }

  /** Signs up in the page; resolves once the home page shows and its live stream is open. */
  async function signUpInBrowser(page: Page, who: { name: string; handle: string }): Promise<void> {
    await page.goto('/sign-up');
    await page.getByLabel('Name').fill(who.name);
    await page.getByLabel('Email').fill(`${who.handle}@example.test`);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Handle (optional)').fill(who.handle);
    const stream = page.waitForResponse((response) => new URL(response.url()).pathname === '/v1/stream');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    assert.equal((await stream).status(), 200, 'the live stream opened');
  }

  async function signUpThroughApi(who: { name: string; handle: string }): Promise<string> {
    const answer = await fetch(`${plaza.url}/v1/auth/signup`, { method: 'POST', headers: json, body: JSON.stringify({ ...who, email: `${who.handle}@example.test`, password: PASSWORD }) });
    assert.equal(answer.status, 201);
    return ((await answer.json()) as { accessToken: string }).accessToken;
  }

  async function tokenOf(handle: string): Promise<string> {
    const answer = await fetch(`${plaza.url}/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ email: `${handle}@example.test`, password: PASSWORD }) });
    assert.equal(answer.status, 200);
    return ((await answer.json()) as { accessToken: string }).accessToken;
  }

  async function call(token: string, method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${plaza.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined && json) }, ...(body !== undefined && { body: JSON.stringify(body) }) });
  }

  async function post(token: string, text: string): Promise<string> {
    const answer = await call(token, 'POST', '/v1/posts', { text });
    assert.equal(answer.status, 201);
    return ((await answer.json()) as { id: string }).id;
  }

  /** Plaza's count of open event streams (/metrics answers loopback). */
  async function openStreams(): Promise<number> {
    const metrics = await (await fetch(`${plaza.url}/metrics`)).text();
    const line = metrics.split('\n').find((each) => each.startsWith('stream_open_connections'));
    return Number(line?.split(' ').at(-1));
  }

  async function expectNoSeriousViolations(page: Page, where: string): Promise<void> {
    assert.deepEqual(await seriousAccessibilityViolations(page), [], where);
  }

  it('shows a followed author\'s new post as "1 new post"; the badge and the notifications page follow live; marking read clears them', async () => {
    const ada = await signUpThroughApi({ name: 'Ada', handle: 'ada_live' });
    const { context, page } = await newContext();
    await signUpInBrowser(page, { name: 'Bo', handle: 'bo_live' });
    const bo = await tokenOf('bo_live');
    assert.equal((await call(bo, 'PUT', '/v1/users/ada_live/follow', { notify: true })).status, 204);

    const text = 'Fresh bread, live from the bakery';
    const posted = Date.now();
    await post(ada, text);
    const newPosts = page.getByRole('button', { name: '1 new post' });
    await newPosts.waitFor({ timeout: 3_000 });
    console.log(`"1 new post" shown ${Date.now() - posted} ms after the post was made`);
    assert.equal(await page.locator('.post', { hasText: text }).count(), 0, 'the timeline did not move by itself');
    await expectNoSeriousViolations(page, 'home with the new-posts button');
    // By keyboard: the button, then Enter; focus lands on the post it brought.
    await newPosts.focus();
    await page.keyboard.press('Enter');
    const shown = page.locator('.post', { hasText: text });
    await shown.waitFor();
    await eventually(async () => assert.equal(await shown.evaluate((element) => element === (element.ownerDocument as { activeElement: unknown }).activeElement), true, 'focus on the new post'));
    assert.equal(await newPosts.count(), 0);

    // Ada follows Bo and likes his post: his badge counts them (with the new_post one) as they happen.
    const nav = page.getByRole('navigation');
    await nav.getByRole('link', { name: 'Notifications 1 unread' }).waitFor({ timeout: 3_000 });
    const bosPost = await post(bo, 'Bo says hello');
    assert.equal((await call(ada, 'PUT', '/v1/users/bo_live/follow')).status, 204);
    assert.equal((await call(ada, 'PUT', `/v1/posts/${bosPost}/like`)).status, 204);
    await nav.getByRole('link', { name: 'Notifications 3 unread' }).waitFor({ timeout: 3_000 });
    assert.equal(await page.getByRole('button', { name: /new post/ }).count(), 0, "Bo's own post is no news to him");

    await nav.getByRole('link', { name: /^Notifications/ }).click();
    await page.getByRole('heading', { name: 'Notifications', exact: true }).waitFor();
    const items = page.locator('.notification');
    await eventually(async () => assert.equal(await items.count(), 3));
    assert.deepEqual(await items.locator('.notification-sentence').allTextContents(), ['New Ada liked your post', 'New Ada followed you', 'New Ada posted']);
    assert.equal(await items.first().getByRole('link', { name: 'Bo says hello' }).getAttribute('href'), `/posts/${bosPost}`);
    assert.equal(await items.nth(1).getByRole('link', { name: 'Ada' }).getAttribute('href'), '/u/ada_live');
    await expectNoSeriousViolations(page, '/notifications');

    // A new one arrives while the page is open: at the top, without a reload.
    const later = await post(ada, 'Second batch at noon');
    await items.first().getByRole('link', { name: 'Second batch at noon' }).waitFor({ timeout: 3_000 });
    await nav.getByRole('link', { name: 'Notifications 4 unread' }).waitFor({ timeout: 3_000 });

    await page.getByRole('button', { name: 'Unread', exact: true }).click();
    await eventually(async () => assert.equal(await items.count(), 4));
    assert.equal(await page.getByRole('button', { name: 'Unread', exact: true }).getAttribute('aria-pressed'), 'true');
    await page.getByRole('button', { name: 'Mark all as read' }).click();
    await nav.getByRole('link', { name: 'Notifications', exact: true }).waitFor({ timeout: 3_000 });
    assert.equal(await page.locator('.notification.unread').count(), 0);
    const count = (await (await call(bo, 'GET', '/v1/notifications/unread-count')).json()) as { count: number };
    assert.equal(count.count, 0, 'marked read at Plaza');
    await page.getByRole('button', { name: 'All', exact: true }).click();
    await page.getByRole('button', { name: 'Unread', exact: true }).click();
    await page.getByText('Nothing unread.').waitFor();

    // The post's link leads to its page.
    await page.getByRole('button', { name: 'All', exact: true }).click();
    await page.getByRole('link', { name: 'Second batch at noon' }).click();
    await page.getByRole('heading', { name: 'Post' }).waitFor();
    await page.locator('.post', { hasText: 'Second batch at noon' }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/posts/${later}`);
    await expectNoSeriousViolations(page, '/posts/:id');

    // On a phone's width: nothing sideways, nothing serious for axe.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto('/notifications');
    await items.first().waitFor();
    assert.equal(await page.evaluate('document.documentElement.scrollWidth <= innerWidth'), true, 'no sideways scrolling');
    await expectNoSeriousViolations(page, '/notifications at 390 px');

    // One stream for the tab, closed on signing out.
    assert.equal(await openStreams(), 1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).first().waitFor();
    await eventually(async () => assert.equal(await openStreams(), 0));
    await context.close();
  });

  it('reconnects when the server goes away, with a refreshed token after a refused one, and refetches after a reset', async () => {
    const ada = await signUpThroughApi({ name: 'Ann', handle: 'ann_live' });
    const adaId = ((await (await call(ada, 'GET', '/v1/account')).json()) as { id: string }).id;
    const first = await post(ada, 'Arrived before the reconnect');
    const { context, page } = await newContext();
    await signUpInBrowser(page, { name: 'Ben', handle: 'ben_live' });
    const ben = await tokenOf('ben_live');

    // The streams the page opens from now on: the first two answered here, then Plaza's own.
    const opened: URL[] = [];
    let showTimeline = () => {};
    const timelineShown = new Promise<void>((resolve) => (showTimeline = resolve));
    const refreshes: number[] = [];
    let refreshesBeforeRefusal = -1;
    await page.route('**/v1/stream?*', async (route) => {
      const url = new URL(route.request().url());
      opened.push(url);
      if (opened.length === 1) {
        // Once the timeline is on screen: an event before anyone listens would go unheard.
        await timelineShown;
        // One event with an id, then a server shutting down (docs/stream.md); a long retry, so the
        // reconnect seen is the client's own, with the current token.
        const body = `retry: 60000\n\nid: 1700000000000-0\nevent: post\ndata: ${JSON.stringify({ id: first, authorId: adaId })}\n\nretry: 60000\nevent: reconnect\ndata: {"reason":"this server is shutting down"}\n\n`;
        return route.fulfill({ status: 200, contentType: 'text/event-stream', body });
      }
      if (opened.length === 2) {
        refreshesBeforeRefusal = refreshes.length;
        // The token is refused (as an expired one would be): EventSource gives up; the client refreshes.
        return route.fulfill({ status: 401, contentType: 'application/problem+json', body: JSON.stringify({ status: 401, code: 'unauthorized', title: 'Unauthorized' }) });
      }
      return route.continue();
    });
    page.on('response', (response) => new URL(response.url()).pathname === '/v1/auth/refresh' && refreshes.push(response.status()));
    await page.reload();
    await page.getByText('No posts yet. Follow people, or write the first post.').waitFor();
    showTimeline();
    await page.getByRole('button', { name: '1 new post' }).waitFor({ timeout: 5_000 });
    await eventually(async () => assert.ok(opened.length >= 2, `opened ${opened.length}`), 5_000);
    assert.equal(opened[1]!.searchParams.get('lastEventId'), '1700000000000-0', 'the reconnect resumes after the last event');
    assert.equal(opened[1]!.searchParams.get('access_token'), opened[0]!.searchParams.get('access_token'));
    await eventually(async () => assert.ok(opened.length >= 3, `opened ${opened.length}`), 10_000);
    assert.deepEqual(refreshes.slice(refreshesBeforeRefusal), [200], 'one refresh between the refused reconnect and the next');
    assert.notEqual(opened[2]!.searchParams.get('access_token'), opened[1]!.searchParams.get('access_token'), 'a fresh token');
    assert.equal(opened[2]!.searchParams.get('lastEventId'), '1700000000000-0');

    // Plaza holds no such id: it says reset, and the button offers the newest posts instead.
    await page.getByRole('button', { name: 'Show the newest posts' }).waitFor({ timeout: 5_000 });
    // Ben follows Ann only now, so that her first post was not in his timeline when the page loaded.
    assert.equal((await call(ben, 'PUT', '/v1/users/ann_live/follow')).status, 204);
    const after = await post(ada, 'Arrived after the reset');
    // The reset button stays (it brings the newest page, whatever arrived meanwhile), once Plaza has both in Ben's timeline.
    await eventually(async () => {
      const { items } = (await (await call(ben, 'GET', '/v1/timelines/home?limit=5')).json()) as { items: { id: string }[] };
      assert.deepEqual(items.map((each) => each.id), [after, first]);
    });
    await page.getByRole('button', { name: 'Show the newest posts' }).click();
    await page.locator('.post', { hasText: 'Arrived after the reset' }).waitFor();
    await page.locator('.post', { hasText: 'Arrived before the reconnect' }).waitFor();
    assert.equal(await page.locator('.post', { hasText: 'Arrived before the reconnect' }).count(), 1, 'shown once');
    await context.close();
  });

  it('serves the service worker from the root, uncached, and registers it', async () => {
    const answer = await fetch(`${plaza.url}/sw.js`);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(answer.headers.get('cache-control'), 'no-cache');
    assert.match(answer.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.match(await answer.text(), /addEventListener\('push'/);
    const page = await fetch(plaza.url, { headers: { accept: 'text/html' } });
    assert.match(page.headers.get('content-security-policy') ?? '', /worker-src 'self'/);

    const { context, page: tab } = await newContext();
    await signUpInBrowser(tab, { name: 'Cy', handle: 'cy_live' });
    await tab.goto('/notifications');
    await tab.getByRole('heading', { name: 'Push notifications' }).waitFor();
    const worker = await tab.evaluate(async () => {
      const { serviceWorker } = navigator as unknown as { serviceWorker: { ready: Promise<{ active: { scriptURL: string } | null }> } };
      return (await serviceWorker.ready).active?.scriptURL;
    });
    assert.equal(worker, `${plaza.url}/sw.js?locale=en`);
    await context.close();
  });

  it("subscribes through the browser's own push service, or says clearly that it cannot be reached", async () => {
    const { context, page } = await newContext();
    await context.grantPermissions(['notifications'], { origin: plaza.url });
    await signUpInBrowser(page, { name: 'Dee', handle: 'dee_live' });
    await page.goto('/notifications');
    const posted: number[] = [];
    page.on('response', (response) => new URL(response.url()).pathname === '/v1/push/subscriptions' && posted.push(response.status()));
    await page.getByRole('button', { name: 'Turn on push notifications' }).click();
    const outcome = page.getByText('Push notifications are on in this browser.').or(page.locator('[data-push-failure]'));
    await outcome.waitFor({ timeout: 20_000 });
    const failure = await page.locator('[data-push-failure]').getAttribute('data-push-failure').catch(() => null);
    if (failure === null) {
      // A machine that reaches the browser's push service: the subscription went to Plaza.
      assert.deepEqual(posted, [201]);
    } else {
      // Headless Chromium refuses ("Registration failed - permission denied", even with the permission
      // granted), and offline it could not reach its push service anyway: said so, nothing posted.
      console.log(`pushManager.subscribe failed here: ${await page.locator('[data-push-failure]').textContent()}`);
      assert.equal(failure, 'browser');
      assert.match((await page.getByRole('alert').textContent()) ?? '', /could not subscribe to push notifications/);
      assert.deepEqual(posted, []);
      await page.getByRole('button', { name: 'Turn on push notifications' }).waitFor();
    }
    await expectNoSeriousViolations(page, '/notifications after turning push on');
    await context.close();
  });

  it('posts the subscription to Plaza, renews it on the next start, and deletes it when turned off or on sign-out', async () => {
    // The browser's push service is out of reach here, so the browser's PushManager (not Plaza's code)
    // hands out a subscription made in the test: a real P-256 key, at the loopback origin set as internal.
    const endpoint = `${pushOrigin}/push/${randomBytes(8).toString('hex')}`;
    const keys = { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') };
    const { context, page } = await newContext();
    await context.grantPermissions(['notifications'], { origin: plaza.url });
    await context.addInitScript(fakePushService, { endpoint, keys });
    await signUpInBrowser(page, { name: 'Eve', handle: 'eve_live' });
    await page.goto('/notifications');
    const answers: string[] = [];
    page.on('response', (response) => new URL(response.url()).pathname === '/v1/push/subscriptions' && answers.push(`${response.request().method()} ${response.status()}`));
    await page.getByRole('button', { name: 'Turn on push notifications' }).click();
    await page.getByText('Push notifications are on in this browser.').waitFor();
    assert.deepEqual(answers, ['POST 201']);
    const applicationServerKey = await page.evaluate(() => (globalThis as unknown as { subscribedWith: string }).subscribedWith);
    const vapid = (await (await fetch(`${plaza.url}/v1/push/vapid-key`)).json()) as { publicKey: string };
    assert.equal(applicationServerKey, vapid.publicKey, "subscribed with Plaza's VAPID key");

    // Stored for Eve: someone else presenting the endpoint with other keys is refused.
    const other = await signUpThroughApi({ name: 'Fay', handle: 'fay_live' });
    const otherKeys = { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') };
    const taken = await call(other, 'POST', '/v1/push/subscriptions', { endpoint, keys: otherKeys });
    assert.equal(taken.status, 409);
    assert.equal(((await taken.json()) as { code: string }).code, 'push_subscription_taken');

    // The next start of the app posts it again.
    answers.length = 0;
    await page.reload();
    await eventually(async () => assert.ok(answers.includes('POST 201'), `answers: ${answers}`));

    await page.getByRole('button', { name: 'Turn off push notifications' }).click();
    await page.getByRole('button', { name: 'Turn on push notifications' }).waitFor();
    await eventually(async () => assert.ok(answers.includes('DELETE 204'), `answers: ${answers}`));
    assert.equal((await call(other, 'POST', '/v1/push/subscriptions', { endpoint, keys: otherKeys })).status, 201, 'gone from Eve');
    assert.equal((await call(other, 'DELETE', '/v1/push/subscriptions', { endpoint })).status, 204);

    // On again, then signing out deletes it too (before the session ends).
    await page.getByRole('button', { name: 'Turn on push notifications' }).click();
    await page.getByText('Push notifications are on in this browser.').waitFor();
    answers.length = 0;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).first().waitFor();
    assert.deepEqual(answers, ['DELETE 204']);
    assert.equal((await call(other, 'POST', '/v1/push/subscriptions', { endpoint, keys: otherKeys })).status, 201, 'gone from Eve after sign-out');
    await context.close();
  });

  it('says clearly when the server has no push (503 push_unavailable)', async () => {
    // No VAPID_SUBJECT nor ADMIN_EMAILS: push is off. Nothing to drain at its stop.
    const withoutPush = await startPlaza({ SHUTDOWN_DRAIN_MS: '0' });
    try {
      const context = await browser.newContext({ baseURL: withoutPush.url, locale: 'en-US' });
      await context.grantPermissions(['notifications'], { origin: withoutPush.url });
      const page = await context.newPage();
      page.on('pageerror', (error) => refusals.push(`page error: ${error.message}`));
      await signUpInBrowser(page, { name: 'Gus', handle: 'gus_live' });
      await page.goto('/notifications');
      await page.getByText('No notifications yet.', { exact: false }).waitFor();
      await page.getByRole('button', { name: 'Turn on push notifications' }).click();
      const alert = page.locator('[data-push-failure]');
      await alert.waitFor();
      assert.equal(await alert.getAttribute('data-push-failure'), 'push_unavailable');
      assert.equal(await alert.textContent(), 'Push notifications are not set up on this Plaza server.');
      await expectNoSeriousViolations(page, '/notifications, push unavailable, empty list');
      await context.close();
    } finally {
      await withoutPush.stop();
    }
  });
});

/**
 * In the page, before Plaza's script: a PushManager whose subscribe hands out the given subscription
 * (the browser's push service cannot be reached from here). Runs in the browser; records the key it
 * was asked to subscribe with.
 */
function fakePushService({ endpoint, keys }: { endpoint: string; keys: { p256dh: string; auth: string } }): void {
  const store = globalThis as unknown as { subscribedWith?: string; fakeSubscription?: unknown };
  const subscription = {
    endpoint,
    expirationTime: null,
    toJSON: () => ({ endpoint, expirationTime: null, keys }),
    unsubscribe: async () => {
      localStorage.removeItem('test.subscribed');
      return true;
    },
  };
  const manager = (globalThis as unknown as { PushManager?: { prototype: Record<string, unknown> } }).PushManager;
  if (manager === undefined) return;
  manager.prototype.subscribe = async (options: { applicationServerKey: string }) => {
    store.subscribedWith = options.applicationServerKey;
    localStorage.setItem('test.subscribed', '1');
    return subscription;
  };
  manager.prototype.getSubscription = async () => (localStorage.getItem('test.subscribed') === '1' ? subscription : null);
}
