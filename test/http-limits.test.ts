import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { assertProblem, signUp, type TestSession } from './helpers/factories.ts';
import { client, type Client } from './helpers/http.ts';
import { imageSample } from './helpers/media-samples.ts';
import { blobKeys, mediaRowsOf, pendingBlobWrites } from './helpers/media.ts';
import { create, wav } from './helpers/tus.ts';
import { eventually } from './helpers/wait.ts';

/** Limits on what a connection may do: timeouts, how many there are, lingering close, input shapes. */

/** Longest any connection here may stay open; past it a test fails instead of hanging. */
const DEADLINE_MS = 15_000;

describe('slow clients', () => {
  const HEADERS_TIMEOUT_MS = 300;
  const REQUEST_TIMEOUT_MS = 1_000;
  const IDLE_TIMEOUT_MS = 2_000;
  let testApp: TestApp;
  let user: TestSession;

  before(async () => {
    testApp = await startApp({
      HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
      // Event streams must beat more often than connections idle out.
      STREAM_HEARTBEAT_SECONDS: '1',
    });
    user = await signUp(client(testApp));
  });
  after(() => testApp.close());

  it('answers 408 to headers that trickle in past HEADERS_TIMEOUT_MS, and closes', async () => {
    const connection = await open(testApp);
    connection.socket.write('POST /v1/auth/login HTTP/1.1\r\nHost: plaza\r\nX-Slow: ');
    const dripping = drip(connection.socket, () => 'a', 50);
    const { text, afterMs } = await connection.closed;
    dripping.stop();
    assertAnswer(text, 408, 'request_timeout');
    assert.ok(afterMs >= HEADERS_TIMEOUT_MS && afterMs < REQUEST_TIMEOUT_MS, `closed after ${afterMs} ms`);
  });

  it('answers 408 to a JSON body sent a byte at a time past REQUEST_TIMEOUT_MS, and closes', async () => {
    const connection = await open(testApp);
    connection.socket.write(head('POST', '/v1/auth/login', { 'content-type': 'application/json', 'content-length': '200' }));
    const dripping = drip(connection.socket, () => ' ', 50);
    const { text, afterMs } = await connection.closed;
    dripping.stop();
    assertAnswer(text, 408, 'request_timeout');
    assert.ok(afterMs >= REQUEST_TIMEOUT_MS && afterMs < REQUEST_TIMEOUT_MS + 2_000, `closed after ${afterMs} ms`);
  });

  it('lets every upload route stream past REQUEST_TIMEOUT_MS for as long as bytes keep coming', async () => {
    const audio = wav(6_000);
    const png = await imageSample('png');
    const form = multipartBody(audio);
    const tusPath = await create(testApp, user.accessToken, audio.length);
    const auth = { authorization: `Bearer ${user.accessToken}` };
    const uploads: { method: string; path: string; headers: Record<string, string>; body: Buffer; status: number[] }[] = [
      { method: 'POST', path: '/v1/media', headers: { 'content-type': 'application/octet-stream' }, body: audio, status: [201, 202] },
      { method: 'POST', path: '/v1/media', headers: { 'content-type': form.type }, body: form.body, status: [201, 202] },
      { method: 'PUT', path: '/v1/recordings/slow.wav', headers: { 'content-type': 'audio/wav' }, body: audio, status: [201] },
      { method: 'PUT', path: '/v1/account/avatar', headers: { 'content-type': 'image/png' }, body: png, status: [200] },
      {
        method: 'PATCH',
        path: tusPath,
        headers: { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
        body: audio,
        status: [204],
      },
    ];
    const answers = await Promise.all(
      uploads.map(async ({ method, path, headers, body }) => {
        const connection = await open(testApp);
        const started = Date.now();
        await sendSlowly(connection.socket, head(method, path, { ...auth, ...headers, connection: 'close', 'content-length': String(body.length) }), body, 2 * REQUEST_TIMEOUT_MS);
        const { text } = await connection.closed;
        return { text, tookMs: Date.now() - started };
      }),
    );
    answers.forEach(({ text, tookMs }, i) => {
      const upload = uploads[i]!;
      assert.ok(upload.status.includes(statusOf(text)), `${upload.method} ${upload.path}: ${statusOf(text)} ${text.slice(text.indexOf('\r\n\r\n'))}`);
      assert.ok(tookMs > REQUEST_TIMEOUT_MS, `${upload.method} ${upload.path} took ${tookMs} ms`);
    });
  });

  it('still times the next request on a connection that streamed an upload', async () => {
    const audio = wav(3_000);
    const connection = await open(testApp);
    const upload = head('POST', '/v1/media', {
      authorization: `Bearer ${user.accessToken}`,
      'content-type': 'application/octet-stream',
      'content-length': String(audio.length),
    });
    await sendSlowly(connection.socket, upload, audio, 2 * REQUEST_TIMEOUT_MS);
    await eventually(async () => assert.match(connection.received(), /^HTTP\/1\.1 20[12] /));
    connection.socket.write(head('POST', '/v1/auth/login', { 'content-type': 'application/json', 'content-length': '200' }));
    const dripping = drip(connection.socket, () => ' ', 50);
    const { text } = await connection.closed;
    dripping.stop();
    assert.match(text, /HTTP\/1\.1 408 Request Timeout/);
  });

  it('cuts off an upload that stalls for IDLE_TIMEOUT_MS, and keeps nothing of it', async () => {
    const stalled = await signUp(client(testApp));
    const audio = wav(20_000);
    const blobsBefore = await blobKeys(testApp, '');
    const connection = await open(testApp);
    connection.socket.write(
      head('POST', '/v1/media', {
        authorization: `Bearer ${stalled.accessToken}`,
        'content-type': 'application/octet-stream',
        'content-length': String(audio.length),
      }),
    );
    connection.socket.write(audio.subarray(0, 8_000));
    const { afterMs } = await connection.closed;
    assert.ok(afterMs >= IDLE_TIMEOUT_MS, `closed after ${afterMs} ms`);
    // The body can no longer end, so no row can come of it; what was written is cleaned up.
    await eventually(async () => assert.deepEqual(await pendingBlobWrites(testApp), [], 'no half-written file'));
    assert.deepEqual(await mediaRowsOf(testApp, stalled.user.id), [], 'no row');
    assert.deepEqual((await blobKeys(testApp, '')).filter((key) => !blobsBefore.includes(key)), [], 'no bytes');
  });
});

describe('connection limits', () => {
  let testApp: TestApp;
  before(async () => {
    testApp = await startApp({ MAX_CONNECTIONS: '2' });
  });
  after(() => testApp.close());

  it('closes connections past MAX_CONNECTIONS at once and takes new ones as others close', async () => {
    const first = await open(testApp);
    const second = await open(testApp);
    for (const connection of [first, second]) {
      connection.socket.write(head('GET', '/ping', {}));
      await eventually(async () => assert.match(connection.received(), /\r\n\r\npong$/));
    }
    const third = await open(testApp);
    const refused = await third.closed;
    assert.equal(refused.text, '', 'closed without an answer');

    first.socket.end();
    await first.closed;
    const answer = await eventually(async () => {
      const fourth = await open(testApp);
      fourth.socket.write(head('GET', '/metrics', { connection: 'close' }));
      const { text } = await fourth.closed;
      assert.equal(statusOf(text), 200, text.slice(0, 200));
      return text;
    });
    assert.match(answer, /^http_connections_dropped_total [1-9]/m);
    second.socket.end();
    await second.closed;
  });
});

describe('answers sent before the body has arrived', () => {
  const LINGER_TIMEOUT_MS = 1_000;
  const BIG = 12 * 1024 * 1024;
  let testApp: TestApp;
  let user: TestSession;
  before(async () => {
    testApp = await startApp({ LINGER_TIMEOUT_MS: String(LINGER_TIMEOUT_MS), MEDIA_MAX_AUDIO_BYTES: '1000000', MEDIA_MAX_IMAGE_BYTES: '1000000' });
    user = await signUp(client(testApp));
  });
  after(() => testApp.close());

  it('reach a fetch client still sending a 12 MB memo, every time', async () => {
    const results = await fetchInChildProcess(testApp.url, 20, {
      method: 'POST',
      path: '/v1/memos',
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
      body: { memo: BIG },
    });
    assert.deepEqual(results, Array(20).fill('413 payload_too_large'));
  });

  it('reach fetch clients of upload routes refused early, with or without a Content-Length', async () => {
    const audio = { method: 'POST', path: '/v1/media', headers: { 'content-type': 'application/octet-stream' } };
    const bearer = { authorization: `Bearer ${user.accessToken}` };
    for (const [name, request, expected] of [
      ['no token', { ...audio, body: { zeros: BIG } }, '401 unauthorized'],
      ['no token, chunked', { ...audio, body: { zeros: BIG, chunked: true } }, '401 unauthorized'],
      ['over the limit', { ...audio, headers: { ...audio.headers, ...bearer }, body: { wav: BIG } }, '413 payload_too_large'],
      ['over the limit, chunked', { ...audio, headers: { ...audio.headers, ...bearer }, body: { wav: BIG, chunked: true } }, '413 payload_too_large'],
      ['not a media type, chunked', { ...audio, headers: { ...audio.headers, ...bearer }, body: { zeros: BIG, chunked: true } }, '415 unsupported_media_type'],
      ['a memo, chunked', { method: 'POST', path: '/v1/memos', headers: { ...bearer, 'content-type': 'application/json' }, body: { memo: BIG, chunked: true } }, '413 payload_too_large'],
    ] as const) {
      const results = await fetchInChildProcess(testApp.url, 10, request);
      assert.deepEqual(results, Array(10).fill(expected), name);
    }
  });

  it('keep the connection for the next request when the rest of the body arrives in time', async () => {
    const connection = await open(testApp);
    const body = Buffer.alloc(testApp.config.bodyLimitBytes + 1, ' ');
    connection.socket.write(head('POST', '/v1/auth/login', { 'content-type': 'application/json', 'content-length': String(body.length) }));
    connection.socket.write(body);
    connection.socket.write(head('GET', '/ping', { connection: 'close' }));
    const { text } = await connection.closed;
    assert.match(text, /^HTTP\/1\.1 413 /);
    assert.match(text, /\r\n\r\npong$/, 'the next request was answered');
  });

  it('keep the connection after an upload refused part-way, once the rest has arrived', async () => {
    const connection = await open(testApp);
    connection.socket.write(
      head('POST', '/v1/media', {
        authorization: `Bearer ${user.accessToken}`,
        'content-type': 'application/octet-stream',
        'transfer-encoding': 'chunked',
      }),
    );
    const audio = wav(2_000_000); // over MEDIA_MAX_AUDIO_BYTES, which only reading tells
    for (let at = 0; at < audio.length; at += 64 * 1024) {
      const chunk = audio.subarray(at, at + 64 * 1024);
      connection.socket.write(`${chunk.length.toString(16)}\r\n`);
      connection.socket.write(chunk);
      connection.socket.write('\r\n');
    }
    connection.socket.write('0\r\n\r\n');
    connection.socket.write(head('GET', '/ping', { connection: 'close' }));
    const { text } = await connection.closed;
    assertAnswer(text.slice(0, text.indexOf('HTTP/1.1 200')), 413, 'payload_too_large');
    assert.match(text, /\r\n\r\npong$/, 'the next request was answered');
  });

  it('close the connection of a client that keeps sending, LINGER_TIMEOUT_MS after the answer', async () => {
    const connection = await open(testApp);
    connection.socket.write(head('POST', '/v1/auth/login', { 'content-type': 'application/json', 'content-length': String(2 ** 40) }));
    const chunk = Buffer.alloc(64 * 1024, ' ');
    let answeredAt: number | undefined;
    const writeOn = () => {
      while (!connection.socket.destroyed && connection.socket.write(chunk));
    };
    connection.socket.on('drain', writeOn);
    connection.socket.on('data', () => (answeredAt ??= Date.now()));
    writeOn();
    const { text } = await connection.closed;
    assertAnswer(text, 413, 'payload_too_large');
    assert.ok(answeredAt !== undefined);
    const lingered = Date.now() - answeredAt;
    assert.ok(lingered >= LINGER_TIMEOUT_MS - 100 && lingered < LINGER_TIMEOUT_MS + 3_000, `closed ${lingered} ms after the answer`);
  });
});

describe('input of any shape', () => {
  let testApp: TestApp;
  let api: Client;
  let user: TestSession;
  before(async () => {
    testApp = await startApp();
    api = client(testApp);
    user = await signUp(api);
  });
  after(() => testApp.close());

  const deepArray = '['.repeat(100_000) + ']'.repeat(100_000);
  const deepObject = '{"a":'.repeat(40_000) + '1' + '}'.repeat(40_000);

  it('refuses bodies nested deeper than 32 levels with 400, however deep', async () => {
    for (const raw of [deepArray, deepObject, `{"text":${deepArray}}`, '['.repeat(33) + ']'.repeat(33)]) {
      for (const [path, token] of [
        ['/v1/auth/login', undefined],
        ['/v1/memos', user.accessToken],
      ] as const) {
        const answer = await api.call('POST', path, { token, raw, headers: { 'content-type': 'application/json' } });
        assertProblem(answer, 400, 'invalid_request');
        assert.match(answer.body.detail, /nested more than 32 levels/);
      }
    }
    const shallow = await api.call('POST', '/v1/memos', { token: user.accessToken, raw: '['.repeat(32) + ']'.repeat(32), headers: { 'content-type': 'application/json' } });
    assertProblem(shallow, 400, 'invalid_request');
    assert.doesNotMatch(shallow.body.detail, /nested/, 'as deep as allowed: refused by the schema instead');
  });

  it('answers wide objects, long strings and NULs with 4xx, never 5xx', async () => {
    const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i])));
    const cases: [string, string][] = [
      ['/v1/auth/login', wide],
      ['/v1/memos', wide],
      ['/v1/memos', JSON.stringify({ text: 'x'.repeat(200_000) })],
      ['/v1/memos', JSON.stringify({ text: 'fine', extra: 'x'.repeat(200_000) })],
      ['/v1/memos', JSON.stringify({ text: `${'x'.repeat(100)}\u0000` })],
      ['/v1/auth/login', JSON.stringify({ email: 'a@example.test', password: 'x'.repeat(200_000) })],
    ];
    for (const [path, raw] of cases) {
      const answer = await api.call('POST', path, { token: user.accessToken, raw, headers: { 'content-type': 'application/json' } });
      assert.ok(answer.status >= 400 && answer.status < 500, `${path} ${raw.slice(0, 40)}…: ${answer.status} ${answer.text.slice(0, 200)}`);
      assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
    }
  });

  it('answers query strings of any shape with 4xx, never 5xx', async () => {
    for (const query of [
      `a${'[b]'.repeat(2_000)}=1`,
      `limit=${'['.repeat(5_000)}`,
      Array.from({ length: 1_000 }, (_, i) => `limit=${i}`).join('&'),
      Array.from({ length: 1_000 }, (_, i) => `k${i}=${i}`).join('&'),
      `cursor=${'x'.repeat(8_000)}`,
      'cursor=%00',
      'limit=%',
    ]) {
      const answer = await api.get(`/v1/memos?${query}`, { token: user.accessToken });
      assert.ok(answer.status >= 400 && answer.status < 500, `${query.slice(0, 40)}…: ${answer.status} ${answer.text.slice(0, 200)}`);
    }
  });
});

type Connection = {
  socket: Socket;
  /** What the server has sent so far. */
  received(): string;
  /** Once the connection is closed: everything the server sent, and how long after opening it closed. */
  closed: Promise<{ text: string; afterMs: number }>;
};

/** A raw TCP connection to the app, failing the test if it is still open after DEADLINE_MS. */
async function open(testApp: TestApp): Promise<Connection> {
  const { hostname, port } = new URL(testApp.url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const openedAt = Date.now();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {}); // a reset is an ending like any other here
  const received = () => Buffer.concat(chunks).toString('latin1');
  const closed = new Promise<{ text: string; afterMs: number }>((resolve, reject) => {
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${DEADLINE_MS} ms; received ${JSON.stringify(received().slice(0, 200))}`));
    }, DEADLINE_MS);
    socket.once('close', () => {
      clearTimeout(deadline);
      resolve({ text: received(), afterMs: Date.now() - openedAt });
    });
  });
  return { socket, received, closed };
}

function head(method: string, path: string, headers: Record<string, string>): string {
  return `${method} ${path} HTTP/1.1\r\nHost: plaza\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}

/** Writes `next()` every `everyMs` until stopped or the socket closes. */
function drip(socket: Socket, next: () => string, everyMs: number): { stop(): void } {
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer);
    else socket.write(next());
  }, everyMs);
  return { stop: () => clearInterval(timer) };
}

/** Writes `head` at once, then `body` in pieces spread over `overMs`. */
async function sendSlowly(socket: Socket, requestHead: string, body: Buffer, overMs: number): Promise<void> {
  socket.write(requestHead);
  const pieces = 15;
  const size = Math.ceil(body.length / pieces);
  for (let at = 0; at < body.length; at += size) {
    await new Promise((resolve) => setTimeout(resolve, overMs / pieces));
    socket.write(body.subarray(at, at + size));
  }
}

function multipartBody(bytes: Buffer): { type: string; body: Buffer } {
  const boundary = 'plaza-slow-upload';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { type: `multipart/form-data; boundary=${boundary}`, body };
}

function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1]);
}

/** Asserts that `text` starts with one answer: a problem document with this status and code. */
function assertAnswer(text: string, status: number, code: string): void {
  assert.equal(statusOf(text), status, text.slice(0, 300));
  assert.match(text, /\r\ncontent-type: application\/problem\+json/i);
  assert.equal(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).code, code);
}

type ChildRequest = {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** A memo (JSON), zeros, or a WAV head then zeros, of this many bytes; `chunked` sends it without a Content-Length. */
  body: { memo?: number; zeros?: number; wav?: number; chunked?: boolean };
};

/**
 * Sends `request` `times` times, one after the other, with Node's fetch from a process of its own
 * (in this process the app would read each chunk as it is written, and the race never shows).
 * Resolves with `"<status> <code>"` per request, or the error that ended it.
 */
function fetchInChildProcess(url: string, times: number, request: ChildRequest): Promise<string[]> {
  const script = `
    const [url, times, request] = [process.argv[1], Number(process.argv[2]), JSON.parse(process.argv[3])];
    const wavHead = Buffer.from('UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=', 'base64');
    function bytes() {
      const { memo, zeros, wav } = request.body;
      if (memo !== undefined) return Buffer.from(JSON.stringify({ text: 'x'.repeat(memo) }));
      const body = Buffer.alloc(zeros ?? wav);
      if (wav !== undefined) wavHead.copy(body);
      return body;
    }
    function chunked(whole) {
      let at = 0;
      return new ReadableStream({ pull(controller) {
        if (at >= whole.length) return controller.close();
        controller.enqueue(new Uint8Array(whole.subarray(at, at += 64 * 1024)));
      } });
    }
    const results = [];
    for (let i = 0; i < times; i++) {
      const whole = bytes();
      const body = request.body.chunked ? chunked(whole) : whole;
      try {
        const response = await fetch(url + request.path, { method: request.method, headers: request.headers, body, duplex: 'half' });
        const answer = await response.json();
        results.push(response.status + ' ' + answer.code);
      } catch (error) {
        results.push(String(error.cause?.code ?? error.message));
      }
    }
    console.log(JSON.stringify(results));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, url, String(times), JSON.stringify(request)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`exit ${code}: ${output}`))));
  });
}
