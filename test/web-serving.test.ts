import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { webClientBuilt } from './helpers/web-client.ts';
import { WEB_CLIENT_DIST } from '../src/http/web-client.ts';
import { sourceHash } from '../src/http/web-client-build.ts';

/** How Plaza serves the web client: index.html for the client's pages, hashed assets cached for good, the client's own policy. */

let plain: TestApp;
let overHttps: TestApp;
before(async () => {
  await webClientBuilt();
  [plain, overHttps] = await Promise.all([startApp(), startApp({ PUBLIC_URL: 'https://plaza.example.test' })]);
});
after(() => Promise.all([plain, overHttps].map((testApp) => testApp?.close())));

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(new URL(path, plain.url), { method, headers });

function directivesOf(header: string | null): Map<string, string> {
  assert.ok(header, 'a content security policy');
  return new Map(header.split(';').map((part) => part.trim()).filter(Boolean).map((part) => {
    const [name = '', ...values] = part.split(/\s+/);
    return [name, values.join(' ')];
  }));
}

describe('index.html', () => {
  it('is the page at /, not cached without asking, revalidated by its ETag, and answers HEAD', async () => {
    const page = await get('/');
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const text = await page.text();
    assert.equal(text, readFileSync(join(WEB_CLIENT_DIST, 'index.html'), 'utf8'));
    const etag = page.headers.get('etag') ?? assert.fail('an ETag');
    assert.equal((await get('/', { 'if-none-match': etag })).status, 304);
    const head = await get('/', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it('runs no inline script: every script is a file of the build', async () => {
    const text = await (await get('/')).text();
    const scripts = [...text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.ok(scripts.length > 0);
    for (const [, attributes, body] of scripts) {
      assert.equal(body, '', 'no inline script');
      assert.match(attributes ?? '', /src="\/assets\/[\w-]+\.js"/);
    }
    assert.doesNotMatch(text, /\son\w+=|style="/i, 'no handler attribute, no style attribute');
  });

  it('has a strict policy of its own', async () => {
    const policy = directivesOf((await get('/')).headers.get('content-security-policy'));
    assert.equal(policy.get('default-src'), "'none'");
    assert.equal(policy.get('script-src'), "'self'");
    assert.equal(policy.get('connect-src'), "'self'");
    assert.equal(policy.get('img-src'), "'self' blob: data:");
    assert.equal(policy.get('media-src'), "'self' blob: data:");
    assert.equal(policy.get('worker-src'), "'self'");
    assert.equal(policy.get('frame-ancestors'), "'none'");
    assert.equal(policy.get('base-uri'), "'none'");
    assert.equal(policy.get('form-action'), "'self'");
    assert.equal(policy.has('upgrade-insecure-requests'), false, 'over plain http');
    const https = directivesOf((await fetch(new URL('/explore', overHttps.url), { headers: HTML })).headers.get('content-security-policy'));
    assert.equal(https.has('upgrade-insecure-requests'), true, 'with an https PUBLIC_URL');
  });

  it("answers the client's pages, for browsers asking for a page", async () => {
    const index = await (await get('/')).text();
    for (const path of ['/explore', '/sign-in', '/auth/return?x=1', '/settings/', '/some/page/deep', '/%E2%9C%93']) {
      const page = await get(path, HTML);
      assert.equal(page.status, 200, path);
      assert.equal(await page.text(), index, path);
      assert.equal(page.headers.get('cache-control'), 'no-cache', path);
    }
  });

  it("leaves Plaza's own paths alone: an unknown API path is still the JSON 404", async () => {
    for (const path of ['/v1/nothing', '/v1', '/docs/nothing', '/openapi.json/x', '/healthz/x', '/metrics/x', '/assets/nothing.js', '/favicon.ico/x']) {
      const answer = await get(path, HTML);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.headers.get('content-type'), 'application/problem+json; charset=utf-8', path);
      assert.equal(((await answer.json()) as { code: string }).code, 'not_found', path);
    }
    for (const [path, init] of [['/explore', { headers: { accept: 'application/json' } }], ['/explore', { method: 'POST', headers: HTML }], ['/explore', {}]] as const) {
      const answer = await fetch(new URL(path, plain.url), init);
      assert.equal(answer.status, 404, `${path} ${JSON.stringify(init)}`);
      assert.equal(((await answer.json()) as { code: string }).code, 'not_found');
    }
    assert.equal((await get('/docs/', HTML)).status, 200);
    assert.equal((await get('/healthz', HTML)).status, 200);
  });
});

describe('the assets', () => {
  const names = () => readdirSync(join(WEB_CLIENT_DIST, 'assets'));

  it('are cached for a year, immutable, and sent compressed where the browser takes it', async () => {
    assert.ok(names().some((name) => name.endsWith('.js')) && names().some((name) => name.endsWith('.css')));
    for (const name of names()) {
      const bytes = readFileSync(join(WEB_CLIENT_DIST, 'assets', name));
      for (const encoding of ['br', 'gzip', 'identity']) {
        const answer = await get(`/assets/${name}`, { 'accept-encoding': encoding });
        assert.equal(answer.status, 200, name);
        assert.equal(answer.headers.get('cache-control'), 'public, max-age=31536000, immutable', name);
        assert.equal(answer.headers.get('vary'), 'accept-encoding');
        assert.equal(answer.headers.get('content-encoding') ?? 'identity', encoding, name);
        assert.match(answer.headers.get('content-type') ?? '', name.endsWith('.js') ? /^text\/javascript/ : /^(text\/css|image\/)/);
        // fetch undoes the encoding: what arrives must be the file itself.
        assert.deepEqual(Buffer.from(await answer.arrayBuffer()), bytes, `${name} as ${encoding}`);
      }
    }
  });

  it('keep the API policy (nothing allowed): a script file is no page', async () => {
    const name = names().find((each) => each.endsWith('.js'));
    const answer = await get(`/assets/${name}`);
    assert.equal(answer.headers.get('content-security-policy'), "default-src 'none';frame-ancestors 'none'");
  });
});

describe('the build', () => {
  it('is stamped with the hash of the sources it was built from, which npm start compares', () => {
    const stamp = JSON.parse(readFileSync(join(WEB_CLIENT_DIST, '.plaza-build.json'), 'utf8'));
    assert.equal(stamp.sources, sourceHash());
  });
});
