import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { client, type Client } from './helpers/http.ts';
import { webClientBuilt } from './helpers/web-client.ts';

/** The pages Plaza serves to browsers: its icons, and the Swagger UI at `/docs` (the web client at `/`: web-serving.test.ts). */

const FASTIFY_LOGO = readFileSync(new URL('../node_modules/@fastify/swagger-ui/static/logo.svg', import.meta.url));

let plain: TestApp;
let overHttp: TestApp;
let overHttps: TestApp;
let api: Client;

before(async () => {
  await webClientBuilt();
  [plain, overHttp, overHttps] = await Promise.all([
    startApp(),
    startApp({ PUBLIC_URL: 'http://plaza.example.test' }),
    startApp({ PUBLIC_URL: 'https://plaza.example.test' }),
  ]);
  api = client(plain);
});
after(() => Promise.all([plain, overHttp, overHttps].map((testApp) => testApp?.close())));

/** A Content-Security-Policy header as its directives, by name. */
function directivesOf(header: string | null): Map<string, string> {
  assert.ok(header, 'a content security policy');
  return new Map(
    header.split(';').map((part) => part.trim()).filter(Boolean).map((part) => {
      const [name = '', ...values] = part.split(/\s+/);
      return [name, values.join(' ')];
    }),
  );
}

describe("Plaza's icons", () => {
  it('are served, cached for a day', async () => {
    for (const [path, type, magic] of [
      ['/favicon.ico', 'image/x-icon', Buffer.from([0, 0, 1, 0])],
      ['/favicon.svg', 'image/svg+xml', Buffer.from('<svg')],
    ] as const) {
      const icon = await fetch(new URL(path, plain.url));
      assert.equal(icon.status, 200, path);
      assert.equal(icon.headers.get('content-type'), type, path);
      assert.equal(icon.headers.get('cache-control'), 'public, max-age=86400', path);
      // An SVG is a document: the API's policy keeps any script in it inert.
      assert.equal(icon.headers.get('content-security-policy'), "default-src 'none';frame-ancestors 'none'", path);
      const bytes = Buffer.from(await icon.arrayBuffer());
      assert.ok(bytes.length > 0 && bytes.length < 4096, `${path}: ${bytes.length} bytes`);
      assert.deepEqual(bytes.subarray(0, magic.length), magic, path);
      const head = await fetch(new URL(path, plain.url), { method: 'HEAD' });
      assert.equal(head.status, 200, path);
      assert.equal(head.headers.get('content-length'), String(bytes.length), path);
    }
  });

  it('are not part of the API document, nor is the web client at /', async () => {
    const { paths } = (await api.get('/openapi.json')).body;
    for (const path of ['/', '/assets/{name}', '/favicon.ico', '/favicon.svg']) assert.equal(paths[path], undefined, path);
  });
});

describe('/docs', () => {
  it('asks browsers to upgrade to https only when PUBLIC_URL is https', async () => {
    for (const [testApp, upgrades] of [[plain, false], [overHttp, false], [overHttps, true]] as const) {
      for (const path of ['/docs/', '/']) {
        const page = await fetch(new URL(path, testApp.url));
        assert.equal(page.status, 200);
        const policy = directivesOf(page.headers.get('content-security-policy'));
        assert.equal(policy.has('upgrade-insecure-requests'), upgrades, `${path} with PUBLIC_URL=${testApp.config.publicUrl || '(unset)'}`);
      }
    }
  });

  it('loads only its own scripts and styles', async () => {
    const policy = directivesOf((await fetch(new URL('/docs/', plain.url))).headers.get('content-security-policy'));
    assert.equal(policy.get('script-src'), "'self'");
    assert.equal(policy.get('style-src'), "'self'");
    assert.equal(policy.get('object-src'), "'none'");
    assert.equal(policy.get('img-src'), "'self' data:", 'its logo is a data: URL');
  });

  it("shows Plaza's name and logo, not Fastify's", async () => {
    const page = await api.get('/docs/');
    assert.match(page.text, /<title>Plaza API<\/title>/);
    assert.match(page.text, /<link rel="icon" type="image\/svg\+xml" href="\.\/static\/theme\/plaza.svg"/);
    const icon = await api.get('/docs/static/theme/plaza.svg');
    assert.equal(icon.status, 200);
    assert.match(icon.text, /^<svg /);
    const initializer = await api.get('/docs/static/swagger-initializer.js');
    assert.equal(initializer.status, 200);
    const logo = /img\.src = 'data:image\/svg\+xml;base64,([^']+)'/.exec(initializer.text)?.[1] ?? assert.fail('a logo of its own');
    const svg = Buffer.from(logo, 'base64');
    assert.notDeepEqual(svg, FASTIFY_LOGO);
    assert.match(svg.toString('utf8'), />Plaza API<\/text>/);
    assert.ok(!initializer.text.includes(FASTIFY_LOGO.toString('base64')), "Fastify's logo");
  });
});
