import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { appPerFile } from './helpers/app.ts';
import { servicesDatabaseUrl } from './helpers/database.ts';
import { assertProblem, follow, publish, signUp } from './helpers/factories.ts';
import { client } from './helpers/http.ts';
import { imageSample, wavSample } from './helpers/media-samples.ts';
import { uploadAndSettle } from './helpers/media.ts';
import { brokenRelativeLink, linkTargets, readRepoFile, repoRoot, runExamples, shellBlocks } from './helpers/shell-examples.ts';
import { eventually, jobsIdle } from './helpers/wait.ts';

/**
 * What README.md promises that no other test checks: its Quick start and links, and configuration
 * and security promises found untested when the README was gone through claim by claim.
 */
const readme = readRepoFile('README.md');
const RUNNING_SERVER = 'http://127.0.0.1:8080/';

// `plaza serve` processes of their own (shutdown, restart), the first started with the file so that
// it boots while the other tests run.
const dataDir = mkdtempSync(join(tmpdir(), 'plaza-shutdown-'));
type Served = { child: ChildProcess; url: string; output: () => string; exited: Promise<unknown[]> };
const served: Served[] = [];
let firstServer: Promise<Served> | undefined;
before(() => {
  firstServer = serve({ SHUTDOWN_TIMEOUT_MS: '500', SHUTDOWN_DRAIN_MS: '0' });
});
after(() => {
  for (const { child } of served) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function serve(env: Record<string, string>): Promise<Served> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(repoRoot, 'src/main.ts'), 'serve'], {
    env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const started = { child, url: `http://127.0.0.1:${port}`, output: () => output, exited: once(child, 'exit') };
  served.push(started);
  return started;
}

async function ready(server: Served): Promise<void> {
  await eventually(async () => assert.equal((await fetch(`${server.url}/healthz`)).status, 200, server.output()), 60_000);
}

describe('the README', () => {
  const shared = appPerFile();

  test('links only into the repository, or to the server it just started', () => {
    const outside = linkTargets(readme).flatMap((target) => {
      if (target.startsWith(RUNNING_SERVER)) return [];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return [`${target}: outside the repository and the running server`];
      return brokenRelativeLink(target, join(repoRoot, 'README.md')) ?? [];
    });
    assert.deepEqual(outside, []);
  });

  test("Quick start's requests work when pasted, each answering the status written beside it", async () => {
    const blocks = shellBlocks(readme).filter((block) => block.includes('curl '));
    assert.ok(blocks.length > 0, 'the README shows no request');
    await runExamples(blocks, shared.testApp.url);
  });

  test('refresh tokens: 256 random bits, stored only as their SHA-256 hash', async () => {
    const { api, testApp } = shared;
    const session = await signUp(api);
    assert.match(session.refreshToken, /^rt_[A-Za-z0-9_-]{43}$/, '32 bytes, base64url');
    const rows = await testApp.deps.database.db.selectFrom('refresh_tokens').selectAll().execute();
    assert.ok(!JSON.stringify(rows).includes(session.refreshToken.slice(3)), 'the token itself is stored nowhere');
    const hash = createHash('sha256').update(session.refreshToken).digest('base64url');
    assert.equal(rows.filter((row) => row.token_hash === hash).length, 1);
    const { accessToken } = (await api.post('/v1/auth/refresh', { refreshToken: session.refreshToken })).body;
    assert.equal(typeof accessToken, 'string', 'the hash is what the token is found by');
  });

  test('access tokens: only HS256 is accepted, even signed with the right secret', async () => {
    const { api, testApp } = shared;
    const session = await signUp(api);
    const claims = JSON.parse(Buffer.from(session.accessToken.split('.')[1] ?? '', 'base64url').toString());
    const key = new TextEncoder().encode(testApp.config.jwtSecret);
    const signWith = (alg: string) =>
      new SignJWT({ sid: claims.sid })
        .setProtectedHeader({ alg })
        .setSubject(claims.sub)
        .setIssuer(claims.iss)
        .setAudience(claims.aud)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(key);
    assert.equal((await api.get('/v1/account', { token: await signWith('HS256') })).status, 200, 'the control');
    for (const alg of ['HS384', 'HS512']) assertProblem(await api.get('/v1/account', { token: await signWith(alg) }), 401, 'unauthorized');
  });

  test('logs: credentials in query parameters and cookies are redacted, and every request line has its id', async () => {
    const { api, testApp } = shared;
    const secrets = ['sig-secret-1', 'code-secret-2', 'token-secret-3', 'state-secret-4', 'cookie-secret-5', 'refresh-secret-6'];
    await api.get(`/v1/media/01NOSUCHITEM/content?exp=1&sig=${secrets[0]}`);
    await api.get(`/ping?code=${secrets[1]}&token=${secrets[2]}&state=${secrets[3]}`);
    await api.get('/v1/account', { headers: { cookie: `session=${secrets[4]}` } });
    await api.get(`/v1/timelines/public?refresh_token=${secrets[5]}`);
    const written = JSON.stringify(testApp.logs);
    for (const secret of secrets) assert.ok(!written.includes(secret), `${secret} leaked into the logs`);
    assert.ok(written.includes('sig=%5Bredacted%5D'), 'the parameter is kept, its value is not');
    const requestLines = testApp.logs.filter((line) => line.msg === 'incoming request' || line.msg === 'request completed');
    assert.ok(requestLines.length > 0);
    for (const line of requestLines) assert.equal(typeof line.reqId, 'string', JSON.stringify(line));
  });

  test('the embedded database is vacuumed and analysed at start-up', { skip: servicesDatabaseUrl !== undefined && 'PGlite only' }, async () => {
    const { testApp } = shared;
    await eventually(async () => assert.ok(testApp.queries.some((query) => /^vacuum analyze$/i.test(query.trim()))));
  });

  test('followers, following and likes list the latest first; a user\'s posts are newest first', async () => {
    const { api } = shared;
    const [star, first, second, third] = await Promise.all([signUp(api), signUp(api), signUp(api), signUp(api)]);
    const post = await publish(api, star, 'one');
    await publish(api, star, 'two');
    for (const fan of [first, second, third]) {
      await follow(api, fan, star);
      await follow(api, star, fan);
      assert.equal((await api.call('PUT', `/v1/posts/${post.id}/like`, { token: fan.accessToken })).status, 204);
    }
    const latestFirst = [third, second, first].map((fan) => fan.user.handle);
    const handles = async (path: string) => (await api.get(path)).body.items.map((item: { handle: string }) => item.handle);
    assert.deepEqual(await handles(`/v1/users/${star.user.handle}/followers`), latestFirst);
    assert.deepEqual(await handles(`/v1/users/${star.user.handle}/following`), latestFirst);
    assert.deepEqual(await handles(`/v1/posts/${post.id}/likes`), latestFirst);
    const texts = (await api.get(`/v1/users/${star.user.handle}/posts`)).body.items.map((item: { text: string }) => item.text);
    assert.deepEqual(texts, ['two', 'one']);
  });

  test('a post is one statement with its counter and fan-out event, whether or not anyone follows its author', async () => {
    const { api, testApp } = shared;
    // What a post writes, and any transaction around it (the relay's own queries touch none of these).
    const postWrites = async (work: () => Promise<unknown>) => {
      const before = testApp.queries.length;
      await work();
      const pattern = /^\s*(begin|start transaction|commit)\b|\binsert into (posts|post_media|user_post_counts|outbox_events)\b/i;
      return testApp.queries.slice(before).filter((query) => pattern.test(query));
    };
    const [loner, author, reader] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    await follow(api, reader, author);
    await jobsIdle(testApp);
    for (const [session, audience] of [[loner, 'nobody'], [author, 'a follower']] as const) {
      const writes = await postWrites(() => publish(api, session, `to ${audience}`));
      assert.equal(writes.length, 1, `a post to ${audience} is one statement, not a transaction: ${writes.join(' | ')}`);
      for (const table of ['posts', 'user_post_counts', 'outbox_events']) assert.match(writes[0] ?? '', new RegExp(`insert into ${table}\\b`, 'i'));
    }
  });

  test('idle connections stay open for KEEPALIVE_TIMEOUT_MS, 72 s by default, and say so', async () => {
    const { headers } = await get(`${shared.testApp.url}/ping`);
    assert.equal(headers['keep-alive'], 'timeout=72');
  });
});

describe('configuration the README documents', () => {
  const PUBLIC_URL = 'https://plaza.example.test';
  const shared = appPerFile({
    BODY_LIMIT: '2048',
    KEEPALIVE_TIMEOUT_MS: '1000',
    PUBLIC_URL,
    SIGNUP_RATE_LIMIT_PER_IP: '5',
    AUTH_RATE_LIMIT_WINDOW: '2',
    LOG_LEVEL: 'warn',
    CORS_ORIGINS: '*',
    FFMPEG_PATH: '/nonexistent',
    FFPROBE_PATH: '/nonexistent',
  });

  test('BODY_LIMIT: a larger JSON body is 413, a smaller one is taken', async () => {
    const { api } = shared;
    const session = await signUp(api);
    const big = await api.post('/v1/memos', { text: 'x'.repeat(3000) }, { token: session.accessToken });
    assertProblem(big, 413, 'payload_too_large');
    assert.equal((await api.post('/v1/memos', { text: 'x'.repeat(1500) }, { token: session.accessToken })).status, 201);
  });

  test('KEEPALIVE_TIMEOUT_MS: an idle connection is closed once it has passed', async () => {
    // A bare socket: Node's own agent drops a connection a second before the server's stated timeout.
    const { port } = new URL(shared.testApp.url);
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    socket.write('GET /ping HTTP/1.1\r\nHost: plaza\r\n\r\n');
    await eventually(async () => assert.match(answer, /\r\n\r\npong$/));
    const idleSince = Date.now();
    await once(socket, 'close');
    const idleMs = Date.now() - idleSince;
    assert.match(answer, /^keep-alive: timeout=1\r$/im);
    assert.ok(idleMs >= 800 && idleMs < 5_000, `closed after ${idleMs} ms idle`);
  });

  test('PUBLIC_URL prefixes every link Plaza hands out: url, thumbnailUrl, avatarUrl, recordings', async () => {
    const { api } = shared;
    // The tests before the rate-limit one sign up four users in all: within SIGNUP_RATE_LIMIT_PER_IP=5.
    const session = await signUp(api);
    const item = await uploadAndSettle(api, session.accessToken, await imageSample('jpeg'));
    assert.equal(item.status, 'ready');
    for (const link of [item.url, item.thumbnailUrl]) assert.ok(String(link).startsWith(`${PUBLIC_URL}/v1/`), link);
    const account = await api.call('PUT', '/v1/account/avatar', {
      token: session.accessToken,
      raw: await imageSample('png'),
      headers: { 'content-type': 'image/png' },
    });
    assert.equal(account.status, 200, account.text);
    assert.ok(String(account.body.avatarUrl).startsWith(`${PUBLIC_URL}/v1/`), account.body.avatarUrl);
    const recording = await api.call('PUT', '/v1/recordings/take.wav', {
      token: session.accessToken,
      raw: wavSample(1),
      headers: { 'content-type': 'audio/wav' },
    });
    assert.equal(recording.status, 201, recording.text);
    assert.ok(String(recording.body.url).startsWith(`${PUBLIC_URL}/v1/`), recording.body.url);
  });

  test('CORS_ORIGINS=*: any origin may call the API from a browser', async () => {
    const preflight = await shared.api.call('OPTIONS', '/v1/memos', {
      headers: { origin: 'https://anywhere.example.test', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://anywhere.example.test');
  });

  test('FFMPEG_PATH=/nonexistent: audio and video are served to their owners only', async () => {
    const { api } = shared;
    const [owner, follower] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, follower, owner);
    const audio = await uploadAndSettle(api, owner.accessToken, wavSample(1));
    assert.equal(audio.status, 'ready');
    assert.ok(audio.url, 'the owner has a link to the upload');
    const post = await publish(api, owner, { text: 'listen', mediaIds: [audio.id] });
    const seen = (await api.get(`/v1/posts/${post.id}`, { token: follower.accessToken })).body.media[0];
    assert.equal(seen.url, undefined, 'no clean copy to link to');
    assertProblem(await api.get(`/v1/media/${audio.id}/content`, { token: follower.accessToken }), 404, 'not_found');
    assert.equal((await api.get(`/v1/media/${audio.id}/content`, { token: owner.accessToken })).status, 200);
  });

  test('AUTH_RATE_LIMIT_WINDOW: the signup budget comes back once the window has passed', async () => {
    const { api } = shared;
    // All at once: each is counted as it arrives, so a slow machine's hashing cannot outlast the window.
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => api.post('/v1/auth/signup', { email: `window${i}-${Date.now()}@example.test`, password: 'long enough', name: 'W' })),
    );
    assert.ok(answers.every((answer) => answer.status === 201 || answer.status === 429), answers.map((answer) => answer.text).join('\n'));
    const refused = answers.find((answer) => answer.status === 429);
    assert.ok(refused !== undefined, 'SIGNUP_RATE_LIMIT_PER_IP=5 ran out');
    assertProblem(refused, 429, 'rate_limited');
    const wait = Number(refused.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 2, `Retry-After ${wait} within the 2 s window`);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 200));
    const again = await api.post('/v1/auth/signup', { email: `after-window-${Date.now()}@example.test`, password: 'long enough', name: 'W' });
    assert.equal(again.status, 201, again.text);
  });

  test('LOG_LEVEL: below the level nothing is written, not even request lines', async () => {
    await shared.api.get('/ping');
    assert.deepEqual(
      shared.testApp.logs.filter((line) => Number(line.level) < 40),
      [],
      'warn (40) and above only',
    );
  });
});

describe('SHUTDOWN_TIMEOUT_MS, and data that outlives its process', () => {
  let signedUp: { email: string; password: string } | undefined;

  test('exits that long after SIGTERM even while an upload is still streaming in', async () => {
    const server = await (firstServer ?? assert.fail('not started'));
    let upload: ClientRequest | undefined;
    let trickle: NodeJS.Timeout | undefined;
    try {
      await ready(server);
      const session = await signUp(client(server.url));
      signedUp = { email: session.user.email, password: session.password };
      // A recording that keeps arriving a few bytes at a time: a request in flight that would never end.
      upload = request(`${server.url}/v1/recordings/endless.wav`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'audio/wav', 'transfer-encoding': 'chunked' },
      });
      upload.on('error', () => {});
      upload.write(wavSample(1).subarray(0, 4096));
      trickle = setInterval(() => upload?.write(Buffer.alloc(64)), 100);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const signalledAt = Date.now();
      server.child.kill('SIGTERM');
      const [code] = await server.exited;
      const tookMs = Date.now() - signalledAt;
      assert.equal(code, 1, server.output());
      assert.ok(tookMs >= 450 && tookMs < 5_000, `exited ${tookMs} ms after SIGTERM`);
    } finally {
      clearInterval(trickle);
      upload?.destroy();
    }
  });

  test('what a process wrote survives its end without closing the database, and a SIGKILL', async () => {
    const { email, password } = signedUp ?? assert.fail('the test before signs a user up');
    const second = await serve({});
    await ready(second);
    const api = client(second.url);
    assert.equal((await api.post('/v1/auth/login', { email, password })).status, 200, 'kept through the shutdown deadline');
    const writer = await signUp(api);
    assert.equal((await api.post('/v1/memos', { text: 'written just before the kill' }, { token: writer.accessToken })).status, 201);
    second.child.kill('SIGKILL');
    await second.exited;
    const third = await serve({});
    await ready(third);
    const again = client(third.url);
    const login = await again.post('/v1/auth/login', { email: writer.user.email, password: writer.password });
    assert.equal(login.status, 200, login.text);
    const memos = await again.get('/v1/memos', { token: login.body.accessToken });
    assert.deepEqual(memos.body.items.map((memo: { text: string }) => memo.text), ['written just before the kill']);
    third.child.kill('SIGTERM');
    assert.equal((await third.exited)[0], 0, third.output());
  });
});

function get(url: string): Promise<{ headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const sent = request(url, (response) => {
      response.resume();
      response.once('end', () => resolve({ headers: response.headers }));
    });
    sent.once('error', reject);
    sent.end();
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
