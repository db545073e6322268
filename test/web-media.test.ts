import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { launchChromium, seriousAccessibilityViolations, skipWithoutChromium, startPlaza, type PlazaProcess } from './helpers/browser.ts';
import { eventually } from './helpers/wait.ts';
import { webClientBuilt } from './helpers/web-client.ts';

/**
 * Memos, recordings and voice posts in a real browser against a real Plaza. Chromium's fake media
 * stream stands in for a microphone (a beeping tone, the permission granted), so MediaRecorder,
 * the level meter and the uploads run as they do for a person.
 */

const PASSWORD = 'correct horse battery staple';
const FAKE_MICROPHONE = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
const PHONE = { width: 390, height: 800 };

describe('memos, recordings and voice posts in a browser', { skip: skipWithoutChromium() }, () => {
  let plaza: PlazaProcess;
  let browser: Browser;
  /** Every Content-Security-Policy refusal or uncaught error any page had. */
  const refusals: string[] = [];

  before(async () => {
    await webClientBuilt();
    plaza = await startPlaza();
    browser = await launchChromium(FAKE_MICROPHONE);
  });
  after(async () => {
    await browser?.close();
    await plaza?.stop();
  });

  async function signedIn(handle: string, options: Parameters<Browser['newContext']>[0] = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ baseURL: plaza.url, locale: 'en-US', ...options });
    const page = await context.newPage();
    page.on('console', (message) => message.text().includes('Content Security Policy') && refusals.push(message.text()));
    page.on('pageerror', (error) => refusals.push(`page error: ${error.message}`));
    await page.goto('/sign-up');
    await page.getByLabel('Name').fill(handle);
    await page.getByLabel('Email').fill(`${handle}@example.test`);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Handle (optional)').fill(handle);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    return { context, page };
  }

  async function expectNoSeriousViolations(page: Page, where: string): Promise<void> {
    assert.deepEqual(await seriousAccessibilityViolations(page), [], where);
  }

  async function expectNoSidewaysScrolling(page: Page, where: string): Promise<void> {
    assert.equal(await page.evaluate('document.documentElement.scrollWidth <= innerWidth'), true, where);
  }

  async function expectFocusOn(page: Page, text: string): Promise<void> {
    await eventually(async () => assert.equal(await page.evaluate('document.activeElement?.textContent'), text));
  }

  /**
   * Records from the fake microphone for about two seconds with the keyboard only, the focus already
   * on Record: the focus follows each step (Stop, then the button that uses the take), and the level
   * meter moves with the beep.
   */
  async function recordTwoSeconds(page: Page, useLabel: string): Promise<void> {
    await expectFocusOn(page, 'Record');
    await page.keyboard.press('Enter');
    await page.getByText(/Recording… 0:0\d/).waitFor();
    await expectFocusOn(page, 'Stop');
    const meter = page.getByRole('meter', { name: 'Microphone level' });
    await eventually(async () => assert.ok(Number(await meter.evaluate((element) => (element as unknown as { value: number }).value)) > 0, 'the meter shows the beep'), 5_000);
    await page.getByText('Recording… 0:02').waitFor();
    await page.keyboard.press('Enter');
    await page.getByLabel('Listen to the recording').waitFor();
    await expectFocusOn(page, useLabel);
  }

  /** Whether anything is drawn on the canvas. */
  function waveformInked(canvas: Locator): Promise<boolean> {
    return canvas.evaluate((element) => {
      const drawn = element as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
      return drawn.getContext('2d').getImageData(0, 0, drawn.width, drawn.height).data.some((value, index) => index % 4 === 3 && value > 0);
    });
  }

  /** The duration the audio element found once its metadata loaded (Infinity for a stream of unknown length). */
  function audioDuration(page: Page, selector: string): Promise<number> {
    return page.locator(selector).first().evaluate(
      (element) =>
        new Promise<number>((resolve, reject) => {
          const audio = element as unknown as { readyState: number; duration: number; error: unknown; load(): void; addEventListener(name: string, listener: () => void): void };
          if (audio.readyState >= 1) return resolve(audio.duration);
          audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
          audio.addEventListener('error', () => reject(new Error('the audio did not load')));
          audio.load();
        }),
    );
  }

  it('writes, searches, edits and deletes memos', async () => {
    const { context, page } = await signedIn('memo_writer');
    await page.getByRole('navigation').getByRole('link', { name: 'Memos' }).click();
    await page.getByRole('heading', { name: 'Memos' }).waitFor();
    await page.getByText('No memos yet.', { exact: false }).waitFor();
    await expectNoSeriousViolations(page, '/memos, empty');

    const write = page.getByRole('form', { name: 'Write a memo' });
    for (const text of ['Buy 100% cotton_thread', 'Call the plumber about the sink']) {
      await write.getByRole('textbox').fill(text);
      await write.getByRole('button', { name: 'Save memo' }).click();
      await page.getByRole('article').filter({ hasText: text }).waitFor();
    }
    assert.equal(await write.getByRole('textbox').inputValue(), '', 'the box is empty again');
    const memos = page.getByRole('article', { name: 'Memo' });
    assert.deepEqual(await memos.locator('.memo-text').allTextContents(), ['Call the plumber about the sink', 'Buy 100% cotton_thread'], 'newest first');
    await expectNoSeriousViolations(page, '/memos, with memos');

    // The API's search: case-insensitive, % and _ plain characters.
    const search = page.getByRole('searchbox', { name: 'Search memos' });
    await search.fill('COTTON');
    await page.getByRole('list', { name: 'Memos containing “COTTON”' }).waitFor();
    await eventually(async () => assert.deepEqual(await memos.locator('.memo-text').allTextContents(), ['Buy 100% cotton_thread']));
    await search.fill('1_0');
    await page.getByText('No memo contains “1_0”.').waitFor();
    await search.fill('');
    await eventually(async () => assert.equal(await memos.count(), 2));

    const memo = memos.filter({ hasText: 'cotton' });
    // Editing: the focus goes into the text, and back to Edit after Cancel.
    await memo.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('form', { name: 'Edit the memo' });
    await eventually(async () => assert.equal(await page.evaluate('document.activeElement?.tagName'), 'TEXTAREA'));
    await edit.getByRole('button', { name: 'Cancel' }).click();
    await expectFocusOn(page, 'Edit');
    await page.keyboard.press('Enter');
    await edit.getByRole('textbox').fill('Buy 100% cotton_thread, and needles');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Buy 100% cotton_thread, and needles').waitFor();
    await page.reload();
    const edited = page.getByRole('article', { name: 'Memo' }).filter({ hasText: 'and needles' });
    await edited.waitFor();
    assert.match((await edited.locator('time').textContent()) ?? '', /^Edited /);

    // Deleting asks first; keyboard only: the focus lands on Cancel, so Enter keeps the memo.
    await edited.getByRole('button', { name: 'Delete memo' }).focus();
    await page.keyboard.press('Enter');
    await edited.getByRole('group', { name: 'Delete this memo?' }).waitFor();
    await expectFocusOn(page, 'Cancel');
    await page.keyboard.press('Enter');
    await edited.getByRole('button', { name: 'Delete memo' }).waitFor();
    await eventually(async () => assert.equal(await page.evaluate('document.activeElement?.getAttribute("aria-label")'), 'Delete memo', 'the focus is back on Delete'));
    await edited.getByRole('button', { name: 'Delete memo' }).click();
    await expectNoSeriousViolations(page, '/memos, asking to delete');
    await edited.getByRole('button', { name: 'Yes, delete' }).click();
    await edited.waitFor({ state: 'detached' });
    await page.reload();
    await page.getByRole('article', { name: 'Memo' }).first().waitFor();
    assert.deepEqual(await page.getByRole('article', { name: 'Memo' }).locator('.memo-text').allTextContents(), ['Call the plumber about the sink'], 'deleted at Plaza');

    await page.setViewportSize(PHONE);
    await expectNoSidewaysScrolling(page, '/memos on a phone');
    await expectNoSeriousViolations(page, '/memos on a phone');
    await context.close();
  });

  it('records in the browser, lists the recording with its waveform, plays it and deletes it', async () => {
    const { context, page } = await signedIn('recorder');
    await page.getByRole('navigation').getByRole('link', { name: 'Recordings' }).click();
    await page.getByRole('heading', { name: 'Recordings', exact: true }).waitFor();
    await page.getByText('No recordings yet.').waitFor();
    await expectNoSeriousViolations(page, '/recordings, empty');

    await page.getByRole('button', { name: 'Record', exact: true }).focus();
    await recordTwoSeconds(page, 'Save recording');
    await expectNoSeriousViolations(page, '/recordings, a take to listen to');
    assert.ok((await audioDuration(page, 'audio.voice-preview')) > 0, 'the preview plays back');

    // A connection dropped mid-upload: the error is shown, the take is kept, and saving again works.
    // The second try is held until the test has seen its progress bar.
    let dropped = 0;
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/v1/recordings/*', async (route) => {
      if (route.request().method() !== 'PUT') return route.continue();
      if (dropped++ === 0) return route.abort('connectionreset');
      await held;
      return route.continue();
    });
    await page.getByRole('button', { name: 'Save recording' }).click();
    await page.getByRole('alert').filter({ hasText: 'could not be reached' }).waitFor();
    await page.getByRole('button', { name: 'Save recording' }).click();
    await page.getByRole('progressbar', { name: 'Upload progress' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save recording' }).isDisabled(), true, 'not sent twice at once');
    release();
    const item = page.locator('.recording');
    await item.waitFor();
    assert.equal(dropped, 2, 'dropped once, then sent again');
    await page.unroute('**/v1/recordings/*');
    assert.equal(await page.getByLabel('Listen to the recording').count(), 0, 'the take is saved, the recorder ready for the next');

    await page.reload();
    await item.waitFor();
    assert.match((await item.locator('strong').textContent()) ?? '', /^Recording \d{4}-\d\d-\d\d \d\d\.\d\d\.\d\d\.webm$/);
    assert.match((await item.locator('.recording-header').textContent()) ?? '', /0:0[1-3]/, 'Plaza measured about two seconds');
    const waveform = item.getByRole('img', { name: /^Waveform of Recording/ });
    await eventually(async () => assert.equal(await waveform.getAttribute('data-peaks'), '100'));
    assert.ok(await waveformInked(waveform), 'the waveform is drawn');

    // A server without ffmpeg has no peaks to give (waveform null): the page decodes the file itself.
    await page.route('**/v1/recordings?*', async (route) => {
      const response = await route.fetch();
      const list = (await response.json()) as { items: { waveform: number[] | null }[] };
      for (const recording of list.items) recording.waveform = null;
      await route.fulfill({ response, json: list });
    });
    await page.reload();
    await eventually(async () => assert.equal(await waveform.getAttribute('data-peaks'), '100'));
    assert.ok(await waveformInked(waveform), 'the decoded waveform is drawn');
    await page.unroute('**/v1/recordings?*');

    // A link refused as expired while the page was open: the page asks Plaza for the recording's fresh
    // link (the same one within this test's hour: Plaza rounds expiries, so the player keeps it).
    const player = item.getByLabel(/^Play Recording/);
    const renewals: string[] = [];
    page.on('request', (request) => /\/v1\/recordings\/\w+$/.test(new URL(request.url()).pathname) && renewals.push(request.method()));
    await page.route('**/v1/recordings/*/content?**', (route) =>
      route.fulfill({ status: 403, contentType: 'application/problem+json', body: '{"status":403,"code":"forbidden"}' }),
    );
    await player.evaluate((audio) => (audio as unknown as { load(): void }).load());
    await eventually(async () => assert.deepEqual(renewals, ['GET']));
    await page.unroute('**/v1/recordings/*/content?**');
    await player.evaluate((audio) => (audio as unknown as { load(): void }).load());

    assert.equal(await player.getAttribute('autoplay'), null, 'nothing plays by itself');
    assert.equal(await player.evaluate((audio) => (audio as unknown as { paused: boolean }).paused), true);
    // A recording is served as it was recorded, and a browser's live WebM does not say its length: the
    // element's duration is then Infinity (the page shows Plaza's measured length above), never 0 or NaN.
    assert.ok((await audioDuration(page, '.recording audio')) > 0, 'the audio element has a duration');
    await player.evaluate((audio) => (audio as unknown as { play(): Promise<void> }).play());
    await eventually(async () => assert.ok((await player.evaluate((audio) => (audio as unknown as { currentTime: number }).currentTime)) > 0, 'it plays'));
    await player.evaluate((audio) => (audio as unknown as { pause(): void }).pause());
    await expectNoSeriousViolations(page, '/recordings, with a recording');
    await page.setViewportSize(PHONE);
    await expectNoSidewaysScrolling(page, '/recordings on a phone');

    await item.getByRole('button', { name: /^Delete Recording/ }).click();
    await item.getByRole('button', { name: 'Yes, delete' }).click();
    await page.getByText('No recordings yet.').waitFor();
    await page.reload();
    await page.getByText('No recordings yet.').waitFor();
    await context.close();
  });

  it('posts with a voice recording, which plays in the timeline', async () => {
    const { context, page } = await signedIn('voice_poster');
    const compose = page.getByRole('form', { name: 'Write a post' });
    await compose.getByRole('button', { name: 'Record voice' }).click();
    await recordTwoSeconds(page, 'Attach to post');
    // The connection drops during the upload's first piece: tus asks Plaza how far it got and goes on from there.
    const tus: string[] = [];
    let dropped = false;
    await page.route('**/v1/uploads**', async (route) => {
      const method = route.request().method();
      if (method === 'PATCH' && !dropped) {
        dropped = true;
        tus.push('PATCH (dropped)');
        return route.abort('connectionreset');
      }
      tus.push(method);
      return route.continue();
    });
    await compose.getByRole('button', { name: 'Attach to post' }).click();
    await compose.getByText('Voice recording attached.').waitFor();
    await expectFocusOn(page, 'Remove voice recording');
    await page.unroute('**/v1/uploads**');
    assert.deepEqual(tus.filter((method) => method !== 'GET'), ['POST', 'PATCH (dropped)', 'HEAD', 'PATCH'], 'created, dropped, resumed from the offset, finished');
    await expectNoSeriousViolations(page, 'compose with a voice recording');
    await compose.getByRole('textbox').fill('Listen to this');
    await compose.getByRole('button', { name: 'Post', exact: true }).click();
    await compose.getByText('Posted.').waitFor();
    await compose.getByRole('button', { name: 'Record voice' }).waitFor();

    const post = page.locator('.post', { hasText: 'Listen to this' });
    await eventually(async () => {
      await page.reload();
      await post.locator('audio').waitFor({ timeout: 2_000 });
    }, 20_000);
    assert.equal(await post.locator('audio').getAttribute('aria-label'), 'Audio');
    // Post media are served as Plaza's clean copy, remuxed, which says its length.
    const duration = await audioDuration(page, '.post audio');
    assert.ok(Number.isFinite(duration) && duration > 1 && duration < 4, `the voice post lasts about two seconds: ${duration}`);
    await expectNoSeriousViolations(page, 'home with a voice post');
    await context.close();
  });

  it('ran without the page refusing anything or throwing', () => {
    assert.deepEqual(refusals, []);
  });
});
