import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from './helpers/browser.ts';
import { imageSample } from './helpers/media-samples.ts';
import { eventually } from './helpers/wait.ts';
import { webClientBuilt } from './helpers/web-client.ts';

/**
 * `/docs` and the web client at `/` in a real browser, with Plaza started as a user starts it on `HOST=0.0.0.0` and
 * opened at the machine's network address over plain http: the case where a policy asking the
 * browser to upgrade to https left /docs blank. Chromium is Debian's (`.ci/run` installs it); a
 * machine without it skips this file, except in CI.
 */

const CHROMIUM = '/usr/bin/chromium';
const address = Object.values(networkInterfaces())
  .flat()
  .find((entry) => entry?.family === 'IPv4' && !entry.internal)?.address;
const missing =
  (!existsSync(CHROMIUM) && `no ${CHROMIUM} (apt-get install chromium)`) || (address === undefined && 'no network address besides loopback');
const skip = missing !== false && process.env.CI === undefined ? missing : false;

describe('the pages in a browser, over http at a network address', { skip }, () => {
  let base: string;
  let browser: Browser;
  let stop: () => Promise<void>;

  before(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'plaza-browser-'));
    const port = await freePort();
    await webClientBuilt();
    // Only what a user's shell would have: the embedded profile, whatever the test run uses.
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '0.0.0.0', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    const server = spawn(process.execPath, ['src/main.ts', 'serve'], { cwd: new URL('..', import.meta.url), env, stdio: ['ignore', 'ignore', 'inherit'] });
    stop = async () => {
      if (server.exitCode === null) {
        server.kill('SIGTERM');
        await once(server, 'exit');
      }
      rmSync(dataDir, { recursive: true, force: true });
    };
    base = `http://${address}:${port}`;
    await eventually(async () => assert.equal((await fetch(`${base}/healthz`)).status, 200), 60_000);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await stop?.();
  });

  it('renders /docs with Plaza name and logo, and "Try it out" uploads a file', async () => {
    const page = await browser.newPage();
    const failed: string[] = [];
    page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
    await page.goto(`${base}/docs`);
    await page.waitForSelector('.swagger-ui .info .title', { timeout: 30_000 });
    assert.match((await page.textContent('.swagger-ui .info .title')) ?? '', /^Plaza API/);
    assert.equal(await page.title(), 'Plaza API');
    assert.match((await page.getAttribute('.topbar-wrapper img', 'src')) ?? '', /^data:image\/svg\+xml;base64,/);

    const signup = await fetch(`${base}/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'browser@example.test', password: 'correct horse battery', name: 'Browser' }),
    });
    const session = (await signup.json()) as { accessToken: string };
    await page.click('.btn.authorize');
    await page.fill('.modal-ux input', session.accessToken);
    await page.click('.modal-ux .auth-btn-wrapper .btn.authorize');
    await page.click('.modal-ux .btn-done');
    const upload = '#operations-media-post_v1_media';
    await page.click(`${upload} .opblock-summary`);
    await page.click(`${upload} .try-out__btn`);
    assert.equal(await page.inputValue(`${upload} .body-param-content-type select`), 'application/octet-stream');
    await page.setInputFiles(`${upload} input[type=file]`, { name: 'photo.png', mimeType: 'image/png', buffer: await imageSample('png') });
    await page.click(`${upload} .execute`);
    const status = page.locator(`${upload} .live-responses-table tbody .response-col_status`).first();
    await status.waitFor({ timeout: 30_000 });
    assert.match((await status.innerText()).trim(), /^20[12]$/);
    assert.deepEqual(failed, []);
    await page.close();
  });

  it('renders the web client at / with its icon, and its policy refuses nothing it needs', async () => {
    const page = await browser.newPage();
    const refused: string[] = [];
    page.on('console', (message) => message.text().includes('Content Security Policy') && refused.push(message.text()));
    await page.goto(`${base}/`);
    await page.waitForSelector('nav a[href="/explore"]', { timeout: 30_000 });
    assert.equal(await page.title(), 'Plaza');
    assert.ok((await page.$eval('.brand img', (img) => (img as unknown as { naturalWidth: number }).naturalWidth)) > 0, 'the icon loaded');
    assert.deepEqual(refused, []);
    await page.close();
  });
});

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '0.0.0.0');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
