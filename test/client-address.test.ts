import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { assertProblem } from './helpers/factories.ts';
import { client, type Client } from './helpers/http.ts';

/**
 * Which address a request comes from, as TRUST_PROXY resolves it from `X-Forwarded-For`, and what
 * depends on it: per-IP rate limits and who may read /metrics. Every request here arrives from
 * 127.0.0.1, standing in for the proxy; the forwarded addresses are what a proxy would have added.
 */

const CLIENT = '203.0.113.7';
const OTHER_CLIENT = '198.51.100.9';

describe('TRUST_PROXY as a hop count', () => {
  let testApp: TestApp;
  let api: Client;
  before(async () => {
    testApp = await startApp({ TRUST_PROXY: '1', LOGIN_RATE_LIMIT_PER_IP: '3' });
    api = client(testApp);
  });
  after(() => testApp.close());

  it('limits a client by the address its proxy saw, whatever it wrote into X-Forwarded-For itself', async () => {
    const login = (forwardedFor: string) =>
      api.post(
        '/v1/auth/login',
        { email: `nobody-${randomBytes(4).toString('hex')}@example.test`, password: 'wrong-password' },
        { headers: { 'x-forwarded-for': forwardedFor } },
      );
    // The client writes a new address each time; its proxy appends the one it saw.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      assertProblem(await login(`10.${attempt}.0.1, ${CLIENT}`), 401, 'invalid_credentials');
    }
    assertProblem(await login(`10.9.0.1, ${CLIENT}`), 429, 'rate_limited');
    assertProblem(await login(CLIENT), 429, 'rate_limited');
    assertProblem(await login(OTHER_CLIENT), 401, 'invalid_credentials');
  });

  it('takes the address from the nearest hop only', async () => {
    assert.equal(await addressSeen(testApp, `${OTHER_CLIENT}, ${CLIENT}`), CLIENT);
    assert.equal(await addressSeen(testApp, undefined), '127.0.0.1');
  });
});

describe('TRUST_PROXY as a list of proxies', () => {
  let testApp: TestApp;
  before(async () => {
    testApp = await startApp({ TRUST_PROXY: '127.0.0.0/8, 10.0.0.0/8' });
  });
  after(() => testApp.close());

  it('believes X-Forwarded-For from the listed proxies only', async () => {
    // Through a listed proxy (the socket), then another listed one (10.1.2.3).
    assert.equal(await addressSeen(testApp, `${OTHER_CLIENT}, ${CLIENT}, 10.1.2.3`), CLIENT);
    // 192.0.2.50 is not a listed proxy: what it claims to have received is not believed.
    assert.equal(await addressSeen(testApp, `${OTHER_CLIENT}, 192.0.2.50`), '192.0.2.50');
  });

  it('believes no forwarded address from a peer that is not listed', async () => {
    const elsewhere = await startApp({ TRUST_PROXY: '10.0.0.0/8' });
    try {
      assert.equal(await addressSeen(elsewhere, CLIENT), '127.0.0.1');
    } finally {
      await elsewhere.close();
    }
  });
});

describe('/metrics', () => {
  const TOKEN = randomBytes(24).toString('base64url');
  let testApp: TestApp;
  let api: Client;
  before(async () => {
    testApp = await startApp({ TRUST_PROXY: 'loopback', METRICS_ALLOW: '192.0.2.0/24, 2001:db8::1', METRICS_TOKEN: TOKEN });
    api = client(testApp);
  });
  after(() => testApp.close());

  const metricsFrom = (forwardedFor: string | undefined, authorization?: string) =>
    api.get('/metrics', {
      headers: { ...(forwardedFor !== undefined && { 'x-forwarded-for': forwardedFor }), ...(authorization !== undefined && { authorization }) },
    });

  it('answers loopback and the addresses in METRICS_ALLOW', async () => {
    for (const from of [undefined, '192.0.2.10', '2001:db8::1', '::ffff:192.0.2.10']) {
      const answer = await metricsFrom(from);
      assert.equal(answer.status, 200, `${from}: ${answer.text}`);
      assert.match(answer.text, /^# TYPE http_requests_total counter$/m);
    }
  });

  it('answers anyone else with 403, unless they bring METRICS_TOKEN', async () => {
    for (const from of [CLIENT, '2001:db8::2', '192.0.3.1']) assertProblem(await metricsFrom(from), 403, 'forbidden');
    assertProblem(await metricsFrom(CLIENT, `Bearer ${TOKEN}x`), 403, 'forbidden');
    assertProblem(await metricsFrom(CLIENT, TOKEN), 403, 'forbidden');
    const withToken = await metricsFrom(CLIENT, `Bearer ${TOKEN}`);
    assert.equal(withToken.status, 200, withToken.text);
    assert.match(withToken.text, /^# TYPE http_requests_total counter$/m);
  });

  it('judges the address TRUST_PROXY resolves, not the proxy that connects', async () => {
    // The request comes from loopback, but through a proxy on behalf of a client elsewhere.
    assertProblem(await metricsFrom(`192.0.2.10, ${CLIENT}`), 403, 'forbidden');
    assert.equal((await metricsFrom(`${CLIENT}, 192.0.2.10`)).status, 200);
  });
});

/** The client address the app logged for a request carrying this X-Forwarded-For. */
async function addressSeen(testApp: TestApp, forwardedFor: string | undefined): Promise<unknown> {
  const requestId = `address-${randomBytes(6).toString('hex')}`;
  const headers: Record<string, string> = { 'x-request-id': requestId };
  if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
  assert.equal((await client(testApp).get('/healthz', { headers })).status, 200);
  const line = testApp.logs.find((entry) => entry.reqId === requestId && entry.msg === 'incoming request');
  return (line?.req as { remoteAddress?: unknown } | undefined)?.remoteAddress;
}
