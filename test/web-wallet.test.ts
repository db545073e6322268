import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Locator, type Page } from 'playwright-core';
import { launchChromium, seriousAccessibilityViolations, skipWithoutChromium, startPlaza, type PlazaProcess } from './helpers/browser.ts';
import { publish, signUp, type TestSession } from './helpers/factories.ts';
import { client } from './helpers/http.ts';
import { ADMIN_EMAIL, deliver, grant, paymentsEnv, signedEvent, signUpAdmin, startFakeStripe } from './helpers/ledger.ts';
import { uploadAndSettle } from './helpers/media.ts';
import { imageSample } from './helpers/media-samples.ts';
import { eventually } from './helpers/wait.ts';
import { webClientBuilt } from './helpers/web-client.ts';

/**
 * Paid posts, the wallet and the library in a real browser against a real Plaza (`npm start`'s
 * command) whose Stripe is the local stand-in the top-up tests use: a seller posts paid posts
 * (through the API), the buyer, granted coins by an operator, sees them locked, buys one with the
 * keyboard and sees it unlock in place, is told why another cannot be bought (too few coins, bought
 * already, in debt), finds the bought posts in the library, the balance and transactions changed,
 * tops up through Checkout and its return page, and retries a purchase whose answer was lost without
 * paying twice. Korean, a phone's width, a server without payments; axe-core on every page, no CSP refusal.
 */

const PASSWORD = 'correct horse battery staple';
const CHECKOUT_ORIGIN = 'https://checkout.stripe.test';

type Stripe = Awaited<ReturnType<typeof startFakeStripe>>;

describe('paid posts, the wallet and the library in a browser', { skip: skipWithoutChromium() }, () => {
  let stripe: Stripe;
  let plaza: PlazaProcess;
  let browser: Browser;
  let api: ReturnType<typeof client>;
  let operator: TestSession;
  let seller: TestSession;
  const refusals: string[] = [];

  before(async () => {
    await webClientBuilt();
    stripe = await startFakeStripe();
    // Checkout sends the buyer back to the client's own return page, on this Plaza.
    plaza = await startPlaza((url) => ({ ADMIN_EMAILS: ADMIN_EMAIL, ...paymentsEnv(stripe.url), PAYMENTS_RETURN_URL: `${url}/wallet/return` }));
    api = client(plaza.url);
    browser = await launchChromium();
    operator = await signUpAdmin(api);
    seller = await signUp(api, { name: 'Sela Seller', handle: 'sela' });
  });
  after(async () => {
    await browser?.close();
    await plaza?.stop();
    await stripe?.close();
  });

  async function newPage(baseURL = plaza.url, options: Parameters<Browser['newContext']>[0] = {}): Promise<Page> {
    const context = await browser.newContext({ baseURL, locale: 'en-US', ...options });
    const page = await context.newPage();
    page.on('console', (message) => message.text().includes('Content Security Policy') && refusals.push(message.text()));
    page.on('pageerror', (error) => refusals.push(`page error: ${error.message}`));
    return page;
  }

  async function signUpInBrowser(page: Page, handle: string): Promise<TestSession> {
    await page.goto('/sign-up');
    await page.getByLabel('Name').fill(`Buyer ${handle}`);
    await page.getByLabel('Email').fill(`${handle}@example.test`);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Handle (optional)').fill(handle);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    const login = await api.post('/v1/auth/login', { email: `${handle}@example.test`, password: PASSWORD });
    assert.equal(login.status, 200, login.text);
    return { ...login.body, password: PASSWORD };
  }

  /** A paid post by the seller with a photo, once Plaza has its blurhash (the placeholder a buyer sees). */
  async function paidPost(text: string, priceCoins: number): Promise<{ id: string }> {
    const photo = await uploadAndSettle(api, seller.accessToken, await imageSample('png'));
    assert.equal(typeof photo.blurhash, 'string');
    return publish(api, seller, { text, mediaIds: [photo.id], priceCoins });
  }

  async function expectNoSeriousViolations(page: Page, where: string): Promise<void> {
    assert.deepEqual(await seriousAccessibilityViolations(page), [], where);
  }

  const focusedInside = (locator: Locator) => locator.evaluate((element) => element.contains(element.ownerDocument.activeElement));

  it('a locked post shows its placeholder and price; buying it (keyboard, confirmation) unlocks it in place', async () => {
    const page = await newPage();
    const buyer = await signUpInBrowser(page, 'bea_buyer');
    await grant(api, operator, buyer, 50, 'welcome');
    const recipe = await paidPost('The recipe, in full', 30);

    await page.goto('/explore');
    const post = page.locator('.post', { hasText: 'The recipe, in full' });
    await post.waitFor();
    assert.equal(await post.getByRole('img', { name: 'Locked photo 1 of 1' }).count(), 1);
    assert.equal(await post.locator('.locked-media canvas').count(), 1, 'the blurhash placeholder');
    assert.equal(await post.locator('img.media-fill').count(), 0, 'no photo before buying');
    assert.match((await post.textContent()) ?? '', /Paid post · 30 coins/);
    const buy = post.getByRole('button', { name: 'Buy for 30 coins' });
    await expectNoSeriousViolations(page, 'a locked post on /explore');

    // The dialog: focus inside it and kept there, Escape closes it and hands focus back.
    await buy.click();
    const dialog = page.getByRole('dialog', { name: 'Buy this post?' });
    await dialog.waitFor();
    await dialog.getByText('Your balance: 50 coins').waitFor();
    assert.match((await dialog.textContent()) ?? '', /You pay 30 coins for this post by Sela Seller/);
    assert.ok(await focusedInside(dialog), 'focus moved into the dialog');
    for (let i = 0; i < 4; i += 1) {
      await page.keyboard.press('Tab');
      assert.ok(await focusedInside(dialog), `focus stays in the dialog after ${i + 1} Tab`);
    }
    await page.keyboard.press('Shift+Tab');
    assert.ok(await focusedInside(dialog), 'and after Shift+Tab');
    await expectNoSeriousViolations(page, 'the buy dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await eventually(async () => assert.ok(await buy.evaluate((button) => button === button.ownerDocument.activeElement), 'focus back on the buy button'));
    assert.deepEqual((await api.get('/v1/wallet', { token: buyer.accessToken })).body, { balance: 50, debt: 0 }, 'nothing bought yet');

    // Keyboard only: Enter on the button, Enter on the confirmation (focused first).
    await page.evaluate('window.notReloaded = true');
    await buy.focus();
    await page.keyboard.press('Enter');
    await dialog.getByText('Your balance: 50 coins').waitFor();
    assert.equal(await dialog.getByRole('button', { name: 'Buy for 30 coins' }).evaluate((button) => button === button.ownerDocument.activeElement), true);
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await post.locator('img.media-fill').waitFor();
    await eventually(async () => assert.ok((await post.locator('img.media-fill').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) > 0, 'the photo loaded'));
    assert.equal(await post.locator('.locked-post').count(), 0);
    await post.getByText('Bought · in your library').waitFor();
    await eventually(async () => assert.ok(await focusedInside(post), 'focus on the unlocked post'));
    assert.equal(await page.evaluate('window.notReloaded'), true, 'unlocked in place, no reload');
    assert.deepEqual((await api.get('/v1/wallet', { token: buyer.accessToken })).body, { balance: 20, debt: 0 });
    assert.equal((await api.get(`/v1/posts/${recipe.id}`, { token: buyer.accessToken })).body.purchasedByMe, true);

    // Too few coins: said in the dialog, with the way to the wallet.
    await paidPost('The whole cookbook', 100);
    // Bought meanwhile elsewhere (another tab, the app): said, and unlocked when the dialog closes.
    const tip = await paidPost('A small tip', 5);
    await page.reload();
    const tipPost = page.locator('.post', { hasText: 'A small tip' });
    await tipPost.getByRole('button', { name: 'Buy for 5 coins' }).waitFor();
    assert.equal((await api.post(`/v1/posts/${tip.id}/purchase`, undefined, { token: buyer.accessToken })).status, 201);
    await tipPost.getByRole('button', { name: 'Buy for 5 coins' }).click();
    await dialog.getByRole('button', { name: 'Buy for 5 coins' }).click();
    await dialog.getByRole('status').getByText('You bought this post already').waitFor();
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
    await tipPost.locator('img.media-fill').waitFor();
    await tipPost.getByText('Bought · in your library').waitFor();

    const cookbook = page.locator('.post', { hasText: 'The whole cookbook' });
    await cookbook.getByRole('button', { name: 'Buy for 100 coins' }).click();
    await dialog.getByText('Your balance: 15 coins').waitFor();
    await dialog.getByRole('button', { name: 'Buy for 100 coins' }).click();
    const alert = dialog.getByRole('alert');
    await alert.getByText('You have too few coins for this.').waitFor();
    await expectNoSeriousViolations(page, 'the buy dialog with a refusal');
    await alert.getByRole('link', { name: 'Top up your wallet' }).click();
    await page.getByRole('heading', { name: 'Wallet' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/wallet');
    assert.equal(await cookbook.count(), 0);

    // The wallet: the balance, and each movement, newest first.
    await page.locator('[data-balance]').getByText('15 coins').waitFor();
    const rows = page.locator('.transactions li');
    await eventually(async () => assert.equal(await rows.count(), 3));
    assert.deepEqual(await rows.evaluateAll((items) => items.map((item) => item.getAttribute('data-type'))), ['purchase', 'purchase', 'grant']);
    assert.deepEqual(await rows.locator('.amount').allTextContents(), ['-5', '-30', '+50']);
    assert.match((await rows.first().textContent()) ?? '', /Bought a post.*Balance after: 15/);
    await expectNoSeriousViolations(page, '/wallet');

    // The library: both bought posts, unlocked.
    await page.getByRole('link', { name: 'Your library: the posts you bought' }).click();
    await page.getByRole('heading', { name: 'Library' }).waitFor();
    const bought = page.locator('.post');
    await eventually(async () => assert.deepEqual(await bought.locator('.post-text').allTextContents(), ['A small tip', 'The recipe, in full']));
    assert.equal(await bought.locator('img.media-fill').count(), 2);
    await expectNoSeriousViolations(page, '/library');

    // The seller got the price less the 10 % fee.
    assert.deepEqual((await api.get('/v1/wallet', { token: seller.accessToken })).body, { balance: 27 + 5, debt: 0 });
    await page.context().close();
  });

  it('tops up through Stripe Checkout; the return page follows the top-up until the coins arrive; a refund after spending shows as debt, which blocks buying', async () => {
    const page = await newPage();
    const buyer = await signUpInBrowser(page, 'tom_topup');
    // The stand-in's Checkout page: the test pays the session at the stand-in, as the buyer would at Stripe.
    await page.route(`${CHECKOUT_ORIGIN}/**`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Checkout</title><h1>Stripe Checkout</h1>' }));

    await page.goto('/wallet');
    await page.locator('[data-balance]').getByText('0 coins').waitFor();
    await page.getByText('No transactions yet.').waitFor();
    const packages = page.locator('.packages button');
    assert.deepEqual(await packages.allTextContents(), ['100 coins $1.99', '550 coins $9.99', '1,200 coins $19.99']);
    await expectNoSeriousViolations(page, '/wallet, empty');
    await page.getByRole('button', { name: '550 coins $9.99' }).click();
    await page.waitForURL(`${CHECKOUT_ORIGIN}/**`);
    const session = [...stripe.sessions.values()].find((item) => page.url() === item.url) ?? assert.fail(`no session at ${page.url()}`);
    const created = stripe.calls.find((call) => call.path === '/v1/checkout/sessions' && call.form.client_reference_id === session.client_reference_id);
    const successUrl = created?.form.success_url ?? assert.fail('no success_url');
    assert.equal(new URL(successUrl).origin, plaza.url);

    // Back from Checkout before Stripe's webhook came: pending, then credited once it does.
    const paid = stripe.pay(session.id);
    await page.goto(successUrl);
    const status = page.locator('[data-topup-status]');
    await page.locator('[data-topup-status="pending"]').getByText('Waiting for the payment to be confirmed… (550 coins)').waitFor();
    await expectNoSeriousViolations(page, '/wallet/return, pending');
    const answer = await deliver(api, signedEvent('checkout.session.completed', { ...paid }));
    assert.equal(answer.status, 200, answer.text);
    await page.locator('[data-topup-status="credited"]').waitFor({ timeout: 15_000 });
    assert.equal(await status.textContent(), 'Paid: 550 coins added to your wallet.');
    await page.locator('[data-balance]').getByText('550 coins').waitFor();
    await expectNoSeriousViolations(page, '/wallet/return, credited');
    assert.deepEqual((await api.get('/v1/wallet', { token: buyer.accessToken })).body, { balance: 550, debt: 0 });

    await page.getByRole('link', { name: 'Back to the wallet' }).click();
    await page.locator('.transactions li[data-type="topup"]').getByText('+550').waitFor();

    // Refunded after most of it was spent: the rest is debt, shown, and buying is refused until it is repaid.
    const spent = await paidPost('Bought before the refund', 500);
    assert.equal((await api.post(`/v1/posts/${spent.id}/purchase`, undefined, { token: buyer.accessToken })).status, 201);
    const refund = signedEvent('charge.refunded', { id: `ch_${session.id}`, object: 'charge', payment_intent: paid.payment_intent, refunded: true, amount_refunded: 999 });
    const refunded = await deliver(api, refund);
    assert.equal(refunded.status, 200, refunded.text);
    assert.deepEqual((await api.get('/v1/wallet', { token: buyer.accessToken })).body, { balance: 0, debt: 500 });
    await page.reload();
    await page.locator('[data-debt]').getByText('500 coins').waitFor();
    await page.getByText('Your next top-up repays this debt first').waitFor();
    await expectNoSeriousViolations(page, '/wallet in debt');
    await paidPost('Not while in debt', 1);
    await page.goto('/explore');
    await page.locator('.post', { hasText: 'Not while in debt' }).getByRole('button', { name: 'Buy for 1 coin' }).click();
    const dialog = page.getByRole('dialog', { name: 'Buy this post?' });
    await dialog.getByRole('button', { name: 'Buy for 1 coin' }).click();
    await dialog.getByRole('alert').getByText('Your wallet is in debt after a refund').waitFor();
    await dialog.getByRole('link', { name: 'Top up your wallet' }).waitFor();
    await page.goto(successUrl);
    await page.locator('[data-topup-status="refunded"]').getByText('Refunded: this top-up\'s 550 coins taken back from your wallet.').waitFor();

    // Leaving Checkout without paying.
    const cancelUrl = created?.form.cancel_url ?? assert.fail('no cancel_url');
    await page.goto(cancelUrl);
    await page.getByText('You left checkout before paying: nothing was charged.').waitFor();
    // Someone else's top-up, or none: said, not shown.
    await page.goto('/wallet/return?topup=nope&result=success');
    await page.getByRole('alert').getByText('There is no such top-up in your wallet.').waitFor();
    await page.context().close();
  });

  it('fits a phone, speaks Korean, asks a visitor to sign in to buy, and retries a lost answer without buying twice', async () => {
    await paidPost('Seen on a phone', 10);
    const page = await newPage(plaza.url, { viewport: { width: 390, height: 800 }, isMobile: true, hasTouch: true });
    await page.goto('/explore');
    const post = page.locator('.post', { hasText: 'Seen on a phone' });
    const signIn = post.getByRole('link', { name: 'Sign in to buy' });
    await signIn.waitFor();
    assert.equal(await signIn.getAttribute('href'), '/sign-in?next=%2Fexplore');
    await expectNoSeriousViolations(page, 'a locked post, signed out');

    const buyer = await signUpInBrowser(page, 'pia_phone');
    await grant(api, operator, buyer, 10);
    for (const path of ['/explore', '/wallet']) {
      await page.goto(path);
      await page.locator(path === '/explore' ? '.locked-post' : '.transactions li').first().waitFor();
      assert.equal(await page.evaluate('document.documentElement.scrollWidth <= innerWidth'), true, `no sideways scrolling on ${path}`);
      await expectNoSeriousViolations(page, `${path} on a phone`);
    }
    await page.getByLabel('Language').first().selectOption('ko');
    await page.goto('/explore');
    await post.getByRole('button', { name: '10코인에 구매' }).click();
    const dialog = page.getByRole('dialog', { name: '이 게시물을 구매할까요?' });
    await dialog.getByText('내 잔액: 10코인').waitFor();
    assert.ok(((await dialog.boundingBox())?.width ?? Infinity) <= 390, 'the dialog fits');
    await expectNoSeriousViolations(page, 'the buy dialog on a phone, in Korean');

    // The answer lost on the way back (Plaza did sell): the retry carries the same Idempotency-Key, so it is not sold twice.
    const keys: (string | undefined)[] = [];
    await page.route('**/v1/posts/*/purchase', async (route) => {
      keys.push(route.request().headers()['idempotency-key']);
      if (keys.length > 1) return route.continue();
      await route.fetch();
      await route.abort('connectionreset');
    });
    await dialog.getByRole('button', { name: '10코인에 구매' }).click();
    await dialog.getByRole('alert').getByText('Plaza에 연결할 수 없습니다', { exact: false }).waitFor();
    await dialog.getByRole('button', { name: '10코인에 구매' }).click();
    await dialog.waitFor({ state: 'detached' });
    await post.locator('img.media-fill').waitFor();
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1]);
    assert.match(keys[0] ?? '', /^web-[0-9a-f]{32}$/);
    assert.deepEqual((await api.get('/v1/wallet', { token: buyer.accessToken })).body, { balance: 0, debt: 0 }, 'charged once');
    await page.unroute('**/v1/posts/*/purchase');

    await page.goto('/wallet');
    await page.getByRole('heading', { name: '지갑' }).waitFor();
    await page.locator('.transactions li').getByText('게시물 구매').waitFor();
    await page.locator('.transactions li').getByText('코인 지급').waitFor();
    await expectNoSeriousViolations(page, '/wallet in Korean');
    await page.context().close();
  });

  it('says "payments are not set up" on a server without Stripe', async () => {
    const bare = await startPlaza();
    try {
      const page = await newPage(bare.url);
      await page.goto('/sign-up');
      await page.getByLabel('Name').fill('Nora');
      await page.getByLabel('Email').fill('nora@example.test');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign up' }).click();
      await page.getByRole('heading', { name: 'Home' }).waitFor();
      await page.getByRole('navigation').getByRole('link', { name: 'Wallet' }).click();
      await page.getByRole('button', { name: '100 coins $1.99' }).click();
      await page.getByRole('alert').getByText('Payments are not set up on this server, so coins cannot be bought here.').waitFor();
      assert.equal(new URL(page.url()).pathname, '/wallet');
      await expectNoSeriousViolations(page, '/wallet without payments');
      await page.context().close();
    } finally {
      await bare.stop();
    }
  });

  it('ran without the page refusing anything or throwing', () => {
    assert.deepEqual(refusals, []);
  });
});
