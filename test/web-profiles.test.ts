import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { freePort } from '../scripts/services/common.ts';
import { launchChromium, seriousAccessibilityViolations, skipWithoutChromium, startPlaza, type PlazaProcess } from './helpers/browser.ts';
import { startIdentityProvider, type IdentityProvider } from './helpers/identity-provider.ts';
import { ffmpegSample, imageSample } from './helpers/media-samples.ts';
import { eventually } from './helpers/wait.ts';
import { webClientBuilt } from './helpers/web-client.ts';

/**
 * The web client's profiles, likes, compose options and account settings, in a real browser against
 * a real Plaza (`npm start`'s command, embedded profile): people visit each other's profiles, follow
 * with the bell on and see the counts move, edit their own profile and picture, open a post's
 * likers, delete their own post, post to followers only (someone not following cannot see it), a
 * paid post and a video; change the password and sign in with the new one; delete the account.
 * axe-core on every page and dialog, a phone's width, the keyboard alone.
 */

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'an even longer passphrase';

type Person = { name: string; handle: string; context: BrowserContext; page: Page };

describe('profiles, likes, compose options and settings in a browser', { skip: skipWithoutChromium() }, () => {
  let plaza: PlazaProcess;
  let browser: Browser;
  /** Every Content-Security-Policy refusal or uncaught error any page logged. */
  const refusals: string[] = [];

  before(async () => {
    await webClientBuilt();
    plaza = await startPlaza();
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

  async function signUp(name: string, handle: string, options: Parameters<Browser['newContext']>[0] = {}): Promise<Person> {
    const { context, page } = await newContext(options);
    await page.goto('/sign-up');
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Email').fill(`${handle}@example.test`);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Handle (optional)').fill(handle);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    return { name, handle, context, page };
  }

  async function post(person: Person, text: string, options: { visibility?: 'followers'; price?: string; files?: Parameters<Locator['setInputFiles']>[0] } = {}): Promise<void> {
    const { page } = person;
    await page.getByRole('navigation').getByRole('link', { name: 'Home' }).click();
    const compose = page.getByRole('form', { name: 'Write a post' });
    await compose.getByRole('textbox', { name: 'Write a post' }).fill(text);
    if (options.visibility !== undefined) await compose.getByLabel('Who can see it').selectOption(options.visibility);
    if (options.price !== undefined) await compose.getByLabel('Price in coins').fill(options.price);
    if (options.files !== undefined) await compose.locator('input[type=file]').setInputFiles(options.files);
    await compose.getByRole('button', { name: 'Post', exact: true }).click();
    await compose.getByText('Posted.').waitFor();
    await page.locator('.post', { hasText: text }).waitFor();
  }

  async function tokenOf(handle: string, password = PASSWORD): Promise<string> {
    const answer = await fetch(`${plaza.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `${handle}@example.test`, password }) });
    assert.equal(answer.status, 200);
    return ((await answer.json()) as { accessToken: string }).accessToken;
  }

  async function expectNoSeriousViolations(page: Page, where: string): Promise<void> {
    assert.deepEqual(await seriousAccessibilityViolations(page), [], where);
  }

  async function count(page: Page, which: 'posts' | 'followers' | 'following'): Promise<string> {
    return ((await page.locator(`[data-count=${which}]`).textContent()) ?? '').trim();
  }

  /** Presses Tab until `target` has the focus: it is reachable by the keyboard alone, in order. */
  async function tabTo(page: Page, target: Locator): Promise<void> {
    for (let presses = 0; presses < 60; presses++) {
      if (await target.evaluate((element) => (element as unknown as { ownerDocument: { activeElement: unknown } }).ownerDocument.activeElement === element)) return;
      await page.keyboard.press('Tab');
    }
    assert.fail(`Tab never reached ${target}`);
  }

  let ada: Person;
  let bo: Person;

  it('visits a profile, follows with the bell on, and the counts follow; the author\'s name in a card links to their profile', async () => {
    ada = await signUp('Ada', 'ada_p');
    bo = await signUp('Bo', 'bo_p');
    await post(ada, 'Ada writes the first post');

    await bo.page.goto('/u/ada_p');
    await bo.page.getByRole('heading', { name: 'Ada', level: 1 }).waitFor();
    assert.equal(await count(bo.page, 'posts'), '1 posts');
    assert.equal(await count(bo.page, 'followers'), '0 followers');
    await bo.page.locator('.post', { hasText: 'Ada writes the first post' }).waitFor();
    await expectNoSeriousViolations(bo.page, '/u/ada_p, not following');
    assert.equal(await bo.page.getByRole('button', { name: 'Notify me of new posts' }).count(), 0, 'no bell before following');

    // The keyboard alone: Tab to Follow, Enter.
    const follow = bo.page.getByRole('button', { name: 'Follow', exact: true });
    await tabTo(bo.page, follow);
    await bo.page.keyboard.press('Enter');
    await bo.page.getByRole('button', { name: 'Unfollow' }).waitFor();
    await eventually(async () => assert.equal(await count(bo.page, 'followers'), '1 followers'));
    const bell = bo.page.getByRole('button', { name: 'Notify me of new posts' });
    assert.equal(await bell.getAttribute('aria-pressed'), 'false');
    await bell.click();
    await eventually(async () => assert.equal(await bell.getAttribute('aria-pressed'), 'true'));
    await expectNoSeriousViolations(bo.page, '/u/ada_p, following with the bell on');

    // Stored at Plaza, not only on screen.
    await bo.page.reload();
    await bo.page.getByRole('button', { name: 'Unfollow' }).waitFor();
    assert.equal(await bo.page.getByRole('button', { name: 'Notify me of new posts' }).getAttribute('aria-pressed'), 'true');
    const seenByBo = (await (await fetch(`${plaza.url}/v1/users/ada_p`, { headers: { authorization: `Bearer ${await tokenOf('bo_p')}` } })).json()) as { followedByMe: boolean; notifyingMe: boolean };
    assert.deepEqual([seenByBo.followedByMe, seenByBo.notifyingMe], [true, true]);

    // Bo's own profile, from the navigation, counts the follow; it offers editing, not following.
    await bo.page.getByRole('navigation').getByRole('link', { name: 'Profile' }).click();
    await bo.page.getByRole('heading', { name: 'Bo', level: 1 }).waitFor();
    assert.equal(await count(bo.page, 'following'), '1 following');
    await bo.page.getByRole('link', { name: 'Edit profile' }).waitFor();
    assert.equal(await bo.page.getByRole('button', { name: 'Follow', exact: true }).count(), 0);
    await expectNoSeriousViolations(bo.page, '/profile');

    // Home now has Ada's post; her name there leads to her profile.
    await bo.page.getByRole('navigation').getByRole('link', { name: 'Home' }).click();
    const card = bo.page.locator('.post', { hasText: 'Ada writes the first post' });
    await card.getByRole('link', { name: /Ada\s*@ada_p/ }).click();
    await bo.page.waitForURL('**/u/ada_p');
    await bo.page.getByRole('heading', { name: 'Ada', level: 1 }).waitFor();

    // The bell off again keeps the follow.
    await bo.page.getByRole('button', { name: 'Notify me of new posts' }).click();
    await eventually(async () => assert.equal(await bo.page.getByRole('button', { name: 'Notify me of new posts' }).getAttribute('aria-pressed'), 'false'));
    await bo.page.getByRole('button', { name: 'Unfollow' }).waitFor();

    await bo.page.goto('/u/nobody_here');
    await bo.page.getByRole('heading', { name: 'No one has the handle @nobody_here.' }).waitFor();
  });

  it('a signed-out visitor sees a profile with a way to sign in, and it fits a phone', async () => {
    const { context, page } = await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await page.goto('/u/ada_p');
    await page.getByRole('heading', { name: 'Ada', level: 1 }).waitFor();
    await page.locator('.post', { hasText: 'Ada writes the first post' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Follow', exact: true }).count(), 0);
    await page.getByRole('main').getByRole('link', { name: 'Sign in' }).waitFor();
    assert.equal(await page.evaluate('document.documentElement.scrollWidth <= innerWidth'), true, 'no sideways scrolling');
    await expectNoSeriousViolations(page, '/u/ada_p signed out, on a phone');
    await context.close();
  });

  it('edits your own profile and picture, and shows the new ones', async () => {
    const { page } = ada;
    await page.getByRole('navigation').getByRole('link', { name: 'Profile' }).click();
    await page.getByRole('link', { name: 'Edit profile' }).click();
    await page.getByRole('heading', { name: 'Edit your profile' }).waitFor();
    await expectNoSeriousViolations(page, '/profile/edit');

    await page.getByLabel('Choose a new picture').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: await imageSample('png') });
    await page.getByText('Your new picture is saved.').waitFor();
    const picture = page.getByRole('img', { name: 'Your profile picture' });
    await eventually(async () => assert.ok(Number(await picture.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) > 0, 'the new picture loaded'));

    await page.getByLabel('Name').fill('Ada Lovelace');
    await page.getByLabel('Bio').fill('Counts things 🧮');
    assert.equal((await page.locator('#profile-bio-count').textContent())?.trim(), '15 / 160');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    await page.getByLabel('Handle').fill('NOT A HANDLE');
    await page.getByRole('button', { name: 'Save' }).click();
    assert.equal(await page.getByLabel('Handle').evaluate((input) => (input as unknown as { validity: { patternMismatch: boolean } }).validity.patternMismatch), true, 'the form says so before Plaza would');
    await page.getByLabel('Handle').fill('ada_p');

    await page.getByRole('link', { name: 'View your profile' }).click();
    await page.getByRole('heading', { name: 'Ada Lovelace', level: 1 }).waitFor();
    await page.getByText('Counts things 🧮').waitFor();
    const avatar = page.getByRole('img', { name: 'Profile picture of Ada Lovelace' });
    await eventually(async () => assert.ok(Number(await avatar.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) > 0));

    // Others see it too.
    await bo.page.goto('/u/ada_p');
    await bo.page.getByRole('heading', { name: 'Ada Lovelace', level: 1 }).waitFor();
    await bo.page.getByText('Counts things 🧮').waitFor();
    const account = (await (await fetch(`${plaza.url}/v1/users/ada_p`)).json()) as { name: string; bio: string; avatarUrl: string | null };
    assert.equal(account.name, 'Ada Lovelace');
    assert.ok(account.avatarUrl !== null);

    await page.goto('/profile/edit');
    await page.getByRole('button', { name: 'Remove picture' }).click();
    await page.getByText('Your picture is removed.').waitFor();
    assert.equal(await page.getByRole('img', { name: 'Your profile picture' }).count(), 0);
  });

  it('likes a post and lists its likers; the author deletes their own post after confirming', async () => {
    await post(ada, 'A post to like and delete');
    await bo.page.goto('/u/ada_p');
    const card = bo.page.locator('.post', { hasText: 'A post to like and delete' });
    await card.getByRole('button', { name: 'Like' }).click();
    await card.getByRole('button', { name: 'Unlike' }).waitFor();
    assert.equal(await card.getByRole('button', { name: 'Delete' }).count(), 0, 'not Bo\'s post to delete');

    await ada.page.goto('/u/ada_p');
    const own = ada.page.locator('.post', { hasText: 'A post to like and delete' });
    const likes = own.getByRole('button', { name: '1 likes' });
    await likes.click();
    const dialog = ada.page.getByRole('dialog', { name: 'Liked by' });
    await dialog.getByRole('link', { name: /Bo\s*@bo_p/ }).waitFor();
    await dialog.getByText('That is everyone.').waitFor();
    await expectNoSeriousViolations(ada.page, 'the likers dialog');
    await ada.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await likes.evaluate((element) => (element as unknown as { ownerDocument: { activeElement: unknown } }).ownerDocument.activeElement === element), true, 'focus is back on the button that opened it');

    // A liker's name leads to their profile.
    await likes.click();
    await dialog.getByRole('link', { name: /Bo\s*@bo_p/ }).click();
    await ada.page.getByRole('heading', { name: 'Bo', level: 1 }).waitFor();

    await ada.page.goto('/u/ada_p');
    assert.equal(await count(ada.page, 'posts'), '2 posts');
    await own.getByRole('button', { name: 'Delete' }).click();
    const confirm = ada.page.getByRole('dialog', { name: 'Delete this post?' });
    await expectNoSeriousViolations(ada.page, 'the delete confirmation');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    await own.waitFor();
    await own.getByRole('button', { name: 'Delete' }).click();
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await own.waitFor({ state: 'detached' });
    await eventually(async () => assert.equal(await count(ada.page, 'posts'), '1 posts'));
    await ada.page.reload();
    await ada.page.locator('.post', { hasText: 'Ada writes the first post' }).waitFor();
    assert.equal(await own.count(), 0, 'gone at Plaza too');
  });

  it('posts to followers only (someone not following cannot see it), a paid post, and a video', async () => {
    const cy = await signUp('Cy', 'cy_p');
    await post(ada, 'Only for my followers', { visibility: 'followers' });
    // The audience stays chosen for the next post.
    assert.equal(await ada.page.getByLabel('Who can see it').inputValue(), 'followers');
    await ada.page.getByLabel('Who can see it').selectOption('public');

    await bo.page.goto('/u/ada_p');
    const forFollowers = bo.page.locator('.post', { hasText: 'Only for my followers' });
    await forFollowers.getByText('Followers only').waitFor();
    await cy.page.goto('/u/ada_p');
    await cy.page.locator('.post', { hasText: 'Ada writes the first post' }).waitFor();
    assert.equal(await cy.page.locator('.post', { hasText: 'Only for my followers' }).count(), 0, 'Cy does not follow Ada');
    await cy.page.goto('/explore');
    await cy.page.locator('.post', { hasText: 'Ada writes the first post' }).waitFor();
    assert.equal(await cy.page.locator('.post', { hasText: 'Only for my followers' }).count(), 0);

    // A price must be a whole number of coins in range before the post can go.
    const compose = ada.page.getByRole('form', { name: 'Write a post' });
    await ada.page.getByRole('navigation').getByRole('link', { name: 'Home' }).click();
    await compose.getByRole('textbox', { name: 'Write a post' }).fill('A paid photo');
    await compose.getByLabel('Price in coins').fill('1.5');
    assert.equal(await compose.getByRole('button', { name: 'Post', exact: true }).isDisabled(), true);
    assert.equal(await compose.getByLabel('Price in coins').getAttribute('aria-invalid'), 'true');
    await compose.getByLabel('Price in coins').fill('2000000');
    assert.equal(await compose.getByRole('button', { name: 'Post', exact: true }).isDisabled(), true);
    await post(ada, 'A paid photo', { price: '5', files: { name: 'paid.png', mimeType: 'image/png', buffer: await imageSample('png') } });
    assert.equal(await compose.getByLabel('Price in coins').inputValue(), '', 'the price does not carry over to the next post');
    await cy.page.goto('/u/ada_p');
    await cy.page.locator('.post', { hasText: 'A paid photo' }).getByRole('button', { name: 'Buy for 5 coins' }).waitFor();
    const posts = (await (await fetch(`${plaza.url}/v1/users/ada_p/posts`)).json()) as { items: { text: string; priceCoins: number; locked: boolean }[] };
    assert.deepEqual(posts.items.filter((item) => item.text === 'A paid photo').map((item) => [item.priceCoins, item.locked]), [[5, true]]);

    await post(ada, 'A video and a photo', { files: [{ name: 'clip.mp4', mimeType: 'video/mp4', buffer: await ffmpegSample('faststartMp4') }, { name: 'still.png', mimeType: 'image/png', buffer: await imageSample('png') }] });
    const withVideo = cy.page.locator('.post', { hasText: 'A video and a photo' });
    await eventually(async () => {
      await cy.page.goto('/u/ada_p');
      await withVideo.locator('video.media-fill').waitFor({ timeout: 2_000 });
      await withVideo.locator('img.media-fill').waitFor({ timeout: 2_000 });
    }, 30_000);
    assert.equal(await withVideo.locator('video').getAttribute('autoplay'), null, 'nothing plays by itself');
    await expectNoSeriousViolations(ada.page, 'home with the compose options');
    await cy.context.close();
  });

  it('changes the password and signs in with the new one; lists the ways to sign in', async () => {
    const { page } = bo;
    await page.getByRole('navigation').getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    const methods = page.getByRole('region', { name: 'Ways to sign in' });
    assert.equal((await methods.locator('[data-provider=password]').textContent())?.trim(), 'Email and passwordSet');
    await methods.getByText('This server offers no social sign-in.').waitFor();
    await expectNoSeriousViolations(page, '/settings');

    await page.getByLabel('Current password').fill('not my password');
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    assert.equal((await page.getByRole('alert').textContent())?.trim(), 'That password is not right.');
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Your password is changed. Every other session was signed out.').waitFor();

    await page.getByRole('button', { name: 'Sign out' }).first().click();
    await page.getByRole('navigation').getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Email').fill('bo_p@example.test');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /do not match/, 'the old password no longer works');
    await page.getByLabel('Password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Home' }).waitFor();
  });

  it('deletes the account after confirming with the password', async () => {
    const { page } = bo;
    await page.goto('/settings');
    await page.getByRole('button', { name: 'Delete account…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete your account' });
    await dialog.getByLabel('Password').waitFor();
    await expectNoSeriousViolations(page, 'the account deletion dialog');
    await dialog.getByLabel('Password').fill(PASSWORD);
    await dialog.getByRole('button', { name: 'Delete for good' }).click();
    assert.equal((await dialog.getByRole('alert').textContent())?.trim(), 'That password is not right.');
    await dialog.getByLabel('Password').fill(NEW_PASSWORD);
    await dialog.getByRole('button', { name: 'Delete for good' }).click();
    await page.getByRole('navigation').getByRole('link', { name: 'Sign in' }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('plaza.refreshToken')), null);
    assert.equal((await fetch(`${plaza.url}/v1/users/bo_p`)).status, 404);
    const login = await fetch(`${plaza.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bo_p@example.test', password: NEW_PASSWORD }) });
    assert.equal(login.status, 401);

    // Ada's follower went with the account.
    await ada.page.goto('/profile');
    await ada.page.getByRole('heading', { name: 'Ada Lovelace', level: 1 }).waitFor();
    assert.equal(await count(ada.page, 'followers'), '0 followers');
    await ada.context.close();
    await bo.context.close();
  });

  it('ran without the page refusing anything or throwing', () => {
    assert.deepEqual(refusals, []);
  });
});

/**
 * The ways to sign in, with a real OpenID provider (`oidc-provider`, its own login and consent pages
 * filled in the browser): linking it to a password account through the web flow and unlinking it;
 * an account made by it refused its last way in (409 last_sign_in_method), setting a password, then
 * unlinking; and deleting such an account with no password, confirmed by its recent sign-in.
 */
describe('linked sign-in providers in a browser', { skip: skipWithoutChromium() }, () => {
  let idp: IdentityProvider;
  let plaza: PlazaProcess;
  let browser: Browser;
  const refusals: string[] = [];

  before(async () => {
    await webClientBuilt();
    // Plaza's public address is registered at the provider before Plaza starts, so its port is chosen first.
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    idp = await startIdentityProvider({ clients: [{ client_id: 'plaza-web', client_secret: 'corp-secret', redirect_uris: [`${publicUrl}/v1/auth/oauth/corp/callback`] }] });
    plaza = await startPlaza(
      {
        NODE_EXTRA_CA_CERTS: idp.caFile,
        PUBLIC_URL: publicUrl,
        AUTH_OIDC_PROVIDERS: 'corp',
        AUTH_OIDC_CORP_NAME: 'Corp',
        AUTH_OIDC_CORP_ISSUER: idp.issuer,
        AUTH_OIDC_CORP_CLIENT_ID: 'plaza-web',
        AUTH_OIDC_CORP_CLIENT_SECRET: 'corp-secret',
      },
      port,
    );
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await plaza?.stop();
    await idp?.close();
  });

  /** A browser that trusts the provider's test certificate (its own pages are not Plaza's: only Plaza's are watched for refusals). */
  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ baseURL: plaza.url, locale: 'en-US', ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.on('console', (message) => message.location().url.startsWith(plaza.url) && message.text().includes('Content Security Policy') && refusals.push(message.text()));
    page.on('pageerror', (error) => refusals.push(`page error: ${error.message}`));
    return { context, page };
  }

  /** At the provider: its login form as `sub`, then its consent, until it sends the browser back to Plaza. */
  async function approveAtProvider(page: Page, sub: string): Promise<void> {
    await page.waitForURL(`${idp.issuer}/**`);
    for (let step = 0; step < 4 && page.url().startsWith(idp.issuer); step++) {
      const login = page.locator('input[name=login]');
      if (await login.isVisible()) {
        await login.fill(sub);
        await page.locator('input[name=password]').fill('any');
      }
      const before = page.url();
      await Promise.all([page.waitForURL((url) => url.href !== before), page.locator('button[type=submit]').first().click()]);
    }
    await page.waitForURL(`${plaza.url}/**`);
  }

  function providerAccount(): string {
    const sub = randomUUID();
    idp.setAccount(sub, { email: `corp-${sub.slice(0, 8)}@corp.example`, email_verified: true, name: 'Grace Corp' });
    return sub;
  }

  async function signInWithCorp(page: Page, sub: string): Promise<void> {
    await page.goto('/sign-in');
    await page.getByRole('link', { name: 'Continue with Corp' }).click();
    await approveAtProvider(page, sub);
    await page.getByRole('heading', { name: 'Home' }).waitFor();
  }

  async function passwordRow(page: Page): Promise<string> {
    return ((await page.locator('[data-provider=password] .muted').textContent()) ?? '').trim();
  }

  it('links the provider to a password account through the web flow, and unlinks it', async () => {
    const { context, page } = await newPage();
    await page.goto('/sign-up');
    await page.getByLabel('Name').fill('Eve');
    await page.getByLabel('Email').fill('eve@example.test');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Home' }).waitFor();

    await page.goto('/settings');
    await page.getByRole('button', { name: 'Link Corp' }).click();
    await approveAtProvider(page, providerAccount());
    await page.waitForURL('**/settings?linked=corp');
    await page.getByRole('status').filter({ hasText: 'Corp is linked: you can sign in with it now.' }).waitFor();
    assert.equal(new URL(page.url()).hash, '', 'nothing left in the address bar');
    await page.getByRole('button', { name: 'Unlink Corp' }).waitFor();
    await expectNoSeriousViolations(page, '/settings with a provider linked');

    await page.getByRole('button', { name: 'Unlink Corp' }).click();
    await page.getByRole('button', { name: 'Link Corp' }).waitFor();
    await context.close();
  });

  it('an account made by the provider: its last way in is not unlinked; a password is set, then it is', async () => {
    const { context, page } = await newPage();
    await signInWithCorp(page, providerAccount());
    await page.getByRole('navigation').getByRole('link', { name: 'Settings' }).click();
    assert.equal(await passwordRow(page), 'Not set');
    await page.getByRole('button', { name: 'Unlink Corp' }).click();
    await page.getByRole('alert').filter({ hasText: 'This is your only way to sign in, so it cannot be unlinked. Set a password or link another provider first.' }).waitFor();
    await page.getByRole('button', { name: 'Unlink Corp' }).waitFor();

    await page.getByRole('heading', { name: 'Set a password' }).waitFor();
    assert.equal(await page.getByLabel('Current password').count(), 0);
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Set password' }).click();
    await eventually(async () => assert.equal(await passwordRow(page), 'Set'));
    await page.getByRole('heading', { name: 'Password', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Unlink Corp' }).click();
    await page.getByRole('button', { name: 'Link Corp' }).waitFor();
    await expectNoSeriousViolations(page, '/settings after setting a password');
    await context.close();
  });

  it('deletes an account without a password, confirmed by its recent sign-in at the provider', async () => {
    const { context, page } = await newPage();
    await signInWithCorp(page, providerAccount());
    await page.goto('/settings');
    const handle = /@(\w+)\)/.exec((await page.getByText('Signed in as').textContent()) ?? '')?.[1];
    assert.ok(handle !== undefined);
    await page.getByRole('button', { name: 'Delete account…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete your account' });
    await dialog.getByText('Your account has no password, so a recent sign-in confirms this.', { exact: false }).waitFor();
    assert.equal(await dialog.getByLabel('Password').count(), 0);
    await dialog.getByRole('button', { name: 'Delete for good' }).click();
    await page.getByRole('navigation').getByRole('link', { name: 'Sign in' }).waitFor();
    assert.equal((await fetch(`${plaza.url}/v1/users/${handle}`)).status, 404);
    await context.close();
  });

  it('ran without Plaza\'s pages refusing anything or throwing', () => {
    assert.deepEqual(refusals, []);
  });

  async function expectNoSeriousViolations(page: Page, where: string): Promise<void> {
    assert.deepEqual(await seriousAccessibilityViolations(page), [], where);
  }
});
