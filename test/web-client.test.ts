import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { WEB_CLIENT_DIST } from '../src/http/web-client.ts';
import { launchChromium, seriousAccessibilityViolations, skipWithoutChromium, startPlaza, type PlazaProcess } from './helpers/browser.ts';
import { imageSample } from './helpers/media-samples.ts';
import { eventually } from './helpers/wait.ts';
import { webClientBuilt } from './helpers/web-client.ts';

/**
 * The web client in a real browser against a real Plaza (`npm start`'s command, embedded profile):
 * two people sign up in two browsers, one follows the other, posts text with a photo, the other sees
 * it in the home timeline and likes it; sessions survive a reload and refresh themselves; sign out
 * and in; the language switch; axe-core on every page built; the first page's JavaScript budget.
 */

const PASSWORD = 'correct horse battery staple';
/** The shortest access token Plaza allows: the client refreshes it every few seconds, which the test watches. */
const ACCESS_TOKEN_TTL = 30;
const FIRST_PAGE_JS_BUDGET = 100 * 1024;

describe('the web client in a browser', { skip: skipWithoutChromium() }, () => {
  let plaza: PlazaProcess;
  let browser: Browser;
  /** Every Content-Security-Policy refusal any page logged: the client must need none of what its policy forbids. */
  const refusals: string[] = [];

  before(async () => {
    await webClientBuilt();
    plaza = await startPlaza({ ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL) });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await plaza?.stop();
  });

  async function newContext(options: Parameters<Browser['newContext']>[0] = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ baseURL: plaza.url, locale: 'en-US', ...options });
    const page = await context.newPage();
    page.on('console', (message) => message.text().includes('Content Security Policy') && refusals.push(message.text()));
    page.on('pageerror', (error) => refusals.push(`page error: ${error.message}`));
    return { context, page };
  }

  async function signUp(page: Page, who: { name: string; handle: string }): Promise<void> {
    await page.goto('/sign-up');
    await page.getByLabel('Name').fill(who.name);
    await page.getByLabel('Email').fill(`${who.handle}@example.test`);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Handle (optional)').fill(who.handle);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Home' }).waitFor();
  }

  async function expectNoSeriousViolations(page: Page, where: string): Promise<void> {
    assert.deepEqual(await seriousAccessibilityViolations(page), [], where);
  }

  it('two people sign up, one follows the other and posts a photo, the other sees it and likes it', async () => {
    const ada = await newContext();
    const bo = await newContext();
    await ada.page.goto('/sign-up');
    await expectNoSeriousViolations(ada.page, '/sign-up');
    await signUp(ada.page, { name: 'Ada', handle: 'ada_web' });
    await signUp(bo.page, { name: 'Bo', handle: 'bo_web' });

    // Profiles (and their follow button) are not built yet: Bo follows through the API.
    const login = await fetch(`${plaza.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bo_web@example.test', password: PASSWORD }) });
    const { accessToken } = (await login.json()) as { accessToken: string };
    assert.equal((await fetch(`${plaza.url}/v1/users/ada_web/follow`, { method: 'PUT', headers: { authorization: `Bearer ${accessToken}` } })).status, 204);

    const text = 'Hello from the web client 👋🏽';
    const compose = ada.page.getByRole('form', { name: 'Write a post' });
    await compose.getByRole('textbox').fill(text);
    // 👋🏽 is one grapheme of four UTF-16 units.
    assert.equal((await compose.locator('.count').textContent())?.trim(), `${[...new Intl.Segmenter().segment(text)].length} / 500`);
    await compose.locator('input[type=file]').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: await imageSample('png') });
    await compose.getByRole('button', { name: 'Post', exact: true }).click();
    await compose.getByText('Posted.').waitFor();
    await ada.page.locator('.post', { hasText: text }).waitFor();
    await expectNoSeriousViolations(ada.page, 'home, signed in, with a post');

    const post = bo.page.locator('.post', { hasText: text });
    await eventually(async () => {
      await bo.page.reload();
      await post.waitFor({ timeout: 2_000 });
      await post.locator('img.media-fill').waitFor({ timeout: 2_000 });
    }, 20_000);
    assert.match((await post.textContent()) ?? '', /Ada\s*@ada_web/);
    await eventually(async () => assert.ok((await post.locator('img.media-fill').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) > 0, 'the photo loaded'));
    await post.getByRole('button', { name: 'Like' }).click();
    await post.getByRole('button', { name: 'Unlike' }).waitFor();
    assert.equal(await post.locator('[data-like-count]').textContent(), '1 likes');
    await bo.page.reload();
    assert.equal(await post.getByRole('button', { name: 'Unlike' }).getAttribute('aria-pressed'), 'true', 'the like was stored');

    await bo.page.goto('/explore');
    await bo.page.locator('.post', { hasText: text }).waitFor();
    await expectNoSeriousViolations(bo.page, '/explore');
    await bo.page.goto('/settings');
    await expectNoSeriousViolations(bo.page, '/settings');
    await ada.context.close();
    await bo.context.close();
  });

  it('keeps the session through a reload and refreshes it before it expires; signs out and in', async () => {
    const { context, page } = await newContext();
    await signUp(page, { name: 'Cy', handle: 'cy_web' });
    const refreshes: number[] = [];
    page.on('response', (response) => response.url().endsWith('/v1/auth/refresh') && refreshes.push(response.status()));
    await page.reload();
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    await page.getByRole('form', { name: 'Write a post' }).waitFor();
    // The client refreshes a minute before expiry, here at once (at least 5 s after the last one): twice in 12 s.
    await eventually(async () => assert.ok(refreshes.length >= 2, `refreshes: ${refreshes}`), 15_000);
    assert.ok(refreshes.every((status) => status === 200), `refreshes: ${refreshes}`);

    // An access token refused (expired or revoked at Plaza's end): the client refreshes once and repeats the request.
    let refused = 0;
    await page.route('**/v1/timelines/home*', async (route) => {
      if (refused++ > 0) return route.continue();
      await route.fulfill({ status: 401, contentType: 'application/problem+json', body: JSON.stringify({ status: 401, code: 'invalid_token', title: 'Unauthorized' }) });
    });
    const before401 = refreshes.length;
    // Within the app (no reload, which would refresh anyway): away and back home.
    const nav = page.getByRole('navigation');
    await nav.getByRole('link', { name: 'Main page' }).click();
    await page.getByRole('heading', { name: 'Main page' }).waitFor();
    await nav.getByRole('link', { name: 'Home' }).click();
    await page.getByText('No posts yet. Follow people, or write the first post.').waitFor();
    assert.equal(refused, 2, 'refused once, then repeated');
    assert.ok(refreshes.length > before401, 'a refresh came between');
    await page.unroute('**/v1/timelines/home*');

    await page.getByRole('button', { name: 'Sign out' }).first().click();
    await page.getByRole('link', { name: 'Sign in' }).first().waitFor();
    await page.reload();
    await page.getByRole('link', { name: 'Sign in' }).first().waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('plaza.refreshToken')), null);

    await page.goto('/sign-in');
    await expectNoSeriousViolations(page, '/sign-in');
    await page.getByLabel('Email').fill('cy_web@example.test');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /do not match/);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    await context.close();
  });

  it('speaks the browser\'s language, switches, and keeps the choice', async () => {
    const korean = await newContext({ locale: 'ko-KR' });
    await korean.page.goto('/explore');
    await korean.page.getByRole('heading', { name: '메인 페이지' }).waitFor();
    assert.equal(await korean.page.getAttribute('html', 'lang'), 'ko');
    await korean.context.close();

    const { context, page } = await newContext();
    await page.goto('/explore');
    await page.getByRole('heading', { name: 'Main page' }).waitFor();
    await page.getByLabel('Language').first().selectOption('ko');
    await page.getByRole('heading', { name: '메인 페이지' }).waitFor();
    await page.getByRole('navigation').getByRole('link', { name: '로그인' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: '메인 페이지' }).waitFor();
    await expectNoSeriousViolations(page, '/explore in Korean');
    await context.close();
  });

  it('fits a phone, and follows the dark colour scheme', async () => {
    const { context, page } = await newContext({ viewport: { width: 375, height: 740 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
    await page.goto('/sign-up');
    await page.getByRole('heading', { name: 'Create your Plaza account' }).waitFor();
    assert.equal(await page.evaluate('document.documentElement.scrollWidth <= innerWidth'), true, 'no sideways scrolling');
    assert.equal(await page.evaluate('getComputedStyle(document.body).backgroundColor'), 'rgb(18, 19, 23)');
    await expectNoSeriousViolations(page, '/sign-up on a phone, dark');
    await context.close();
  });

  it(`loads at most ${FIRST_PAGE_JS_BUDGET / 1024} KB of JavaScript, gzipped, for the first page`, async () => {
    const { context, page } = await newContext();
    const scripts = new Set<string>();
    page.on('response', (response) => response.request().resourceType() === 'script' && scripts.add(new URL(response.url()).pathname));
    await page.goto('/', { waitUntil: 'networkidle' });
    await page.getByRole('heading', { name: 'Main page' }).waitFor();
    const sizes = [...scripts].map((path) => {
      assert.match(path, /^\/assets\/[\w-]+\.js$/);
      return gzipSync(readFileSync(join(WEB_CLIENT_DIST, path))).length;
    });
    const total = sizes.reduce((sum, size) => sum + size, 0);
    console.log(`first page: ${scripts.size} scripts, ${(total / 1024).toFixed(1)} KB gzipped`);
    assert.ok(total <= FIRST_PAGE_JS_BUDGET, `${total} bytes gzipped`);
    await context.close();
  });

  it('ran without the page refusing anything or throwing', () => {
    assert.deepEqual(refusals, []);
  });
});
