import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { client, type Client } from './helpers/http.ts';
import { assertProblem, signUp, type TestSession } from './helpers/factories.ts';
import { EXPIRE_UPLOADS_JOB } from '../src/modules/uploads/jobs.ts';
import { assertNoErrorLogs, mediaRowsOf, runJob } from './helpers/media.ts';
import * as samples from './helpers/media-samples.ts';

const MiB = 1024 * 1024;
const MAX_BYTES = 64 * MiB;
/** Each user's storage: more than any upload here, less than MAX_BYTES. */
const QUOTA_BYTES = 48 * MiB;

let testApp: TestApp;
let api: Client;
let alice: TestSession;
let bob: TestSession;

before(async () => {
  testApp = await startApp({ UPLOAD_MAX_BYTES: String(MAX_BYTES), MEDIA_QUOTA_BYTES: String(QUOTA_BYTES) });
  api = client(testApp);
  [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
});
after(async () => {
  assertNoErrorLogs(testApp);
  await testApp.close();
});

type TusAnswer = { status: number; headers: Headers; text: string; body: any };

/** One raw tus request (a fetch: tus needs nothing else). */
async function tus(
  target: TestApp,
  method: string,
  path: string,
  options: { token?: string | undefined; headers?: Record<string, string>; body?: Buffer | ReadableStream<Uint8Array>; signal?: AbortSignal } = {},
): Promise<TusAnswer> {
  const headers: Record<string, string> = { 'tus-resumable': '1.0.0', ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(new URL(path, target.url), {
    method,
    headers,
    body: options.body,
    signal: options.signal,
    ...(options.body instanceof ReadableStream && { duplex: 'half' }),
  } as RequestInit);
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, headers: response.headers, text, body: type.includes('json') && text !== '' ? JSON.parse(text) : text };
}

const b64 = (value: string) => Buffer.from(value, 'utf8').toString('base64');
const metadata = (fileName: string, fileType: string) => `filename ${b64(fileName)},filetype ${b64(fileType)}`;

/** Creates an upload of `length` bytes; returns its path (`/v1/uploads/<id>`). */
async function create(target: TestApp, token: string, length: number, fileName = 'clip.wav', fileType = 'audio/wav'): Promise<string> {
  const answer = await tus(target, 'POST', '/v1/uploads', {
    token,
    headers: { 'upload-length': String(length), 'upload-metadata': metadata(fileName, fileType) },
  });
  assert.equal(answer.status, 201, answer.text);
  assert.equal(answer.headers.get('tus-resumable'), '1.0.0');
  const location = answer.headers.get('location');
  assert.ok(location, 'a Location header');
  const path = new URL(location, target.url).pathname;
  assert.match(path, /^\/v1\/uploads\/[0-9A-Z]{26}$/, 'a server-made id');
  return path;
}

function patch(target: TestApp, token: string, path: string, offset: number, bytes: Buffer, signal?: AbortSignal): Promise<TusAnswer> {
  return tus(target, 'PATCH', path, {
    token,
    headers: { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
    body: bytes,
    ...(signal !== undefined && { signal }),
  });
}

async function offsetOf(target: TestApp, token: string, path: string): Promise<number> {
  const answer = await tus(target, 'HEAD', path, { token });
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.headers.get('cache-control'), 'no-store');
  return Number(answer.headers.get('upload-offset'));
}

/** A WAV file of exactly `size` bytes (16-bit mono PCM, noise): an audio upload of any size. */
function wav(size: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(size - 8, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(size - 44, 40);
  return Buffer.concat([header, randomBytes(size - 44)]);
}

async function assertBecameMedia(target: TestApp, token: string, path: string, bytes: Buffer, fileName: string): Promise<string> {
  const state = await client(target).get(path, { token });
  assert.equal(state.status, 200, state.text);
  assert.equal(state.body.status, 'done');
  assert.equal(typeof state.body.mediaId, 'string');
  assert.equal(state.body.length, bytes.length);
  const media = await client(target).get(`/v1/media/${state.body.mediaId}`, { token });
  assert.equal(media.status, 200, media.text);
  assert.equal(media.body.size, bytes.length);
  assert.equal(media.body.fileName, fileName);
  const content = await fetch(new URL(`/v1/media/${state.body.mediaId}/content`, target.url), { headers: { authorization: `Bearer ${token}` } });
  assert.equal(content.status, 200);
  assert.ok(Buffer.from(await content.arrayBuffer()).equals(bytes), 'the media item holds the uploaded bytes');
  return state.body.mediaId;
}

describe('tus uploads', () => {
  it('takes an upload in chunks and turns it into a media item', async () => {
    // Larger than a stored piece on S3 (8 MiB), so one PATCH spans several pieces there.
    const bytes = wav(20 * MiB + 12_345);
    const path = await create(testApp, alice.accessToken, bytes.length, 'long take.wav');

    const before = await api.get(path, { token: alice.accessToken });
    assert.equal(before.status, 200, before.text);
    assert.deepEqual(before.body, { id: path.split('/').pop(), status: 'uploading', mediaId: null, offset: 0, length: bytes.length });

    const ends = [3 * MiB, 3 * MiB + 1, bytes.length];
    let offset = 0;
    for (const end of ends) {
      const answer = await patch(testApp, alice.accessToken, path, offset, bytes.subarray(offset, end));
      assert.equal(answer.status, 204, answer.text);
      assert.equal(Number(answer.headers.get('upload-offset')), end);
      if (end < bytes.length) {
        assert.equal(await offsetOf(testApp, alice.accessToken, path), end);
        assert.ok(answer.headers.get('upload-expires'), 'an unfinished upload says when it expires');
      }
      offset = end;
    }
    await assertBecameMedia(testApp, alice.accessToken, path, bytes, 'long take.wav');

    // A client resuming it finds it complete; it cannot be written to or terminated any more.
    const head = await tus(testApp, 'HEAD', path, { token: alice.accessToken });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('upload-offset'), String(bytes.length));
    assert.equal(head.headers.get('upload-length'), String(bytes.length));
    assertProblem(await patch(testApp, alice.accessToken, path, bytes.length, Buffer.alloc(0)), 409, 'conflict');
    assertProblem(await tus(testApp, 'DELETE', path, { token: alice.accessToken }), 409, 'conflict');
  });

  it('takes a whole upload with its creation request (creation-with-upload)', async () => {
    const bytes = await samples.imageSample('png');
    const answer = await tus(testApp, 'POST', '/v1/uploads', {
      token: alice.accessToken,
      headers: {
        'upload-length': String(bytes.length),
        'upload-metadata': metadata('photo.png', 'image/png'),
        'content-type': 'application/offset+octet-stream',
      },
      body: bytes,
    });
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.headers.get('upload-offset'), String(bytes.length));
    // tus answers go through the app like any other: request id and security headers included.
    assert.ok(answer.headers.get('x-request-id'));
    assert.equal(answer.headers.get('x-content-type-options'), 'nosniff');
    const path = new URL(answer.headers.get('location') ?? '', testApp.url).pathname;
    await assertBecameMedia(testApp, alice.accessToken, path, bytes, 'photo.png');
  });

  it('terminates an upload: its bytes and its URL are gone', async () => {
    const path = await create(testApp, alice.accessToken, 1000);
    assert.equal((await patch(testApp, alice.accessToken, path, 0, wav(500))).status, 204);
    const answer = await tus(testApp, 'DELETE', path, { token: alice.accessToken });
    assert.equal(answer.status, 204, answer.text);
    assert.equal((await tus(testApp, 'HEAD', path, { token: alice.accessToken })).status, 404);
    assertProblem(await api.get(path, { token: alice.accessToken }), 404, 'not_found');
    assert.deepEqual(await storedUploadIds(testApp, path), [], 'nothing of it is left in storage');
    assertProblem(await patch(testApp, alice.accessToken, path, 500, Buffer.alloc(10)), 404, 'not_found');
  });

  it('answers 409 to a PATCH at the wrong offset, and keeps the upload as it was', async () => {
    const path = await create(testApp, alice.accessToken, 1000);
    assert.equal((await patch(testApp, alice.accessToken, path, 0, wav(400))).status, 204);
    const answer = await patch(testApp, alice.accessToken, path, 300, Buffer.alloc(100));
    assertProblem(answer, 409, 'conflict');
    assert.equal(answer.headers.get('tus-resumable'), '1.0.0');
    assert.equal(await offsetOf(testApp, alice.accessToken, path), 400);
  });

  it('answers bad tus requests with 4xx problems, never 5xx', async () => {
    const path = await create(testApp, alice.accessToken, 1000);
    const noVersion = await fetch(new URL(path, testApp.url), { method: 'HEAD', headers: { authorization: `Bearer ${alice.accessToken}` } });
    assert.equal(noVersion.status, 412);
    assertProblem(
      await tus(testApp, 'PATCH', path, { token: alice.accessToken, headers: { 'content-type': 'application/offset+octet-stream' }, body: Buffer.alloc(10) }),
      400,
      'invalid_request',
    );
    assertProblem(
      await tus(testApp, 'PATCH', path, { token: alice.accessToken, headers: { 'upload-offset': '0', 'content-type': 'text/plain' }, body: Buffer.alloc(10) }),
      400,
      'invalid_request',
    );
    assertProblem(await patch(testApp, alice.accessToken, path, 0, Buffer.alloc(1001)), 413, 'payload_too_large');
    assertProblem(await tus(testApp, 'POST', '/v1/uploads', { token: alice.accessToken }), 400, 'invalid_request');
    assertProblem(
      await tus(testApp, 'POST', '/v1/uploads', { token: alice.accessToken, headers: { 'upload-length': '10', 'upload-metadata': 'file ***' } }),
      400,
      'invalid_request',
    );
    assertProblem(
      await tus(testApp, 'POST', '/v1/uploads', { token: alice.accessToken, headers: { 'upload-length': '10', 'upload-concat': 'partial' } }),
      400,
      'invalid_request',
    );
    assert.equal((await tus(testApp, 'HEAD', '/v1/uploads/..%2F..%2Fjwt-secret', { token: alice.accessToken })).status, 400);
    assertProblem(await tus(testApp, 'DELETE', '/v1/uploads/..%2F..%2Fjwt-secret', { token: alice.accessToken }), 400, 'invalid_request');
    assert.equal(await offsetOf(testApp, alice.accessToken, path), 0);
  });

  it('refuses an Upload-Length over the maximum with 413', async () => {
    const answer = await tus(testApp, 'POST', '/v1/uploads', {
      token: alice.accessToken,
      headers: { 'upload-length': String(MAX_BYTES + 1), 'upload-metadata': metadata('huge.wav', 'audio/wav') },
    });
    assertProblem(answer, 413, 'payload_too_large');
  });

  it('refuses at creation an upload that could not fit in the quota, before any byte is sent', async () => {
    const answer = await tus(testApp, 'POST', '/v1/uploads', {
      token: alice.accessToken,
      headers: { 'upload-length': String(QUOTA_BYTES + 1), 'upload-metadata': metadata('long.wav', 'audio/wav') },
    });
    assertProblem(answer, 413, 'payload_too_large');
    assert.match(answer.body.detail, /quota/);
  });

  it('needs a bearer token for every tus request and the status', async () => {
    const path = await create(testApp, alice.accessToken, 100);
    assertProblem(await tus(testApp, 'POST', '/v1/uploads', { headers: { 'upload-length': '100' } }), 401, 'unauthorized');
    assertProblem(await tus(testApp, 'POST', '/v1/uploads', { token: 'not-a-token', headers: { 'upload-length': '100' } }), 401, 'unauthorized');
    assertProblem(await patch(testApp, undefined as unknown as string, path, 0, Buffer.alloc(10)), 401, 'unauthorized');
    assert.equal((await tus(testApp, 'HEAD', path)).status, 401);
    assertProblem(await tus(testApp, 'DELETE', path), 401, 'unauthorized');
    assertProblem(await api.get(path), 401, 'unauthorized');
    assert.equal(await offsetOf(testApp, alice.accessToken, path), 0);
  });

  it("hides another user's upload: 404 for HEAD, PATCH, DELETE and the status", async () => {
    const path = await create(testApp, alice.accessToken, 1000);
    assert.equal((await patch(testApp, alice.accessToken, path, 0, wav(100))).status, 204);
    assert.equal((await tus(testApp, 'HEAD', path, { token: bob.accessToken })).status, 404);
    assertProblem(await patch(testApp, bob.accessToken, path, 100, Buffer.alloc(100)), 404, 'not_found');
    assertProblem(await tus(testApp, 'DELETE', path, { token: bob.accessToken }), 404, 'not_found');
    assertProblem(await api.get(path, { token: bob.accessToken }), 404, 'not_found');
    assert.equal(await offsetOf(testApp, alice.accessToken, path), 100, "alice's upload is untouched");
  });

  it('refuses a finished upload of a type that is not allowed (415), keeping no media and no bytes', async () => {
    const carol = await signUp(api);
    const html = Buffer.from(`<!doctype html><html><body>${'<p>hello</p>'.repeat(200)}</body></html>`);
    const path = await create(testApp, carol.accessToken, html.length, 'page.html', 'image/png');
    const half = Math.floor(html.length / 2);
    assert.equal((await patch(testApp, carol.accessToken, path, 0, html.subarray(0, half))).status, 204);
    const answer = await patch(testApp, carol.accessToken, path, half, html.subarray(half));
    assertProblem(answer, 415, 'unsupported_media_type');

    const state = await api.get(path, { token: carol.accessToken });
    assert.equal(state.status, 200, state.text);
    assert.equal(state.body.status, 'failed');
    assert.equal(state.body.mediaId, null);
    assert.equal(state.body.error.code, 'unsupported_media_type');
    assert.deepEqual(await mediaRowsOf(testApp, carol.user.id), []);
    assert.equal((await tus(testApp, 'HEAD', path, { token: carol.accessToken })).status, 404, 'the bytes are gone');
    assert.deepEqual(await storedUploadIds(testApp, path), [], 'nothing of it is left in storage');
  });

  it('is described in /openapi.json', async () => {
    const doc = await api.get('/openapi.json');
    assert.equal(doc.status, 200);
    assert.ok(doc.body.paths['/v1/uploads']?.post, 'POST /v1/uploads');
    for (const method of ['get', 'patch', 'delete']) {
      assert.ok(doc.body.paths['/v1/uploads/{uploadId}']?.[method], `${method.toUpperCase()} /v1/uploads/{uploadId}`);
    }
  });

  it('keeps an interrupted upload across a restart, and resumes it from HEAD', async () => {
    const first = await startApp({ UPLOAD_MAX_BYTES: String(MAX_BYTES) });
    let current = first;
    try {
      const dave = await signUp(client(first));
      const bytes = wav(6 * MiB + 777);
      const path = await create(first, dave.accessToken, bytes.length, 'field recording.wav');
      const firstPart = 2 * MiB;
      assert.equal((await patch(first, dave.accessToken, path, 0, bytes.subarray(0, firstPart))).status, 204);

      // The next PATCH is cut off: some bytes sent, then the connection drops.
      await cutOff(first, dave.accessToken, path, firstPart, bytes.subarray(firstPart, firstPart + 3 * MiB));
      const offsetBefore = await offsetOf(first, dave.accessToken, path);
      assert.ok(offsetBefore >= firstPart && offsetBefore < bytes.length, `offset ${offsetBefore}`);
      current = await first.restart();
      const offset = await offsetOf(current, dave.accessToken, path);
      assert.equal(offset, offsetBefore, 'the offset survives the restart');
      const answer = await patch(current, dave.accessToken, path, offset, bytes.subarray(offset));
      assert.equal(answer.status, 204, answer.text);
      await assertBecameMedia(current, dave.accessToken, path, bytes, 'field recording.wav');
      assertNoErrorLogs(current);
    } finally {
      await current.close();
    }
  });

  it('removes expired uploads and their rows', async () => {
    const expiring = await startApp({ UPLOAD_MAX_BYTES: String(MAX_BYTES) });
    try {
      const erin = await signUp(client(expiring));
      const path = await create(expiring, erin.accessToken, 1000);
      assert.equal((await patch(expiring, erin.accessToken, path, 0, wav(200))).status, 204);
      const id = path.split('/').pop() as string;
      // Backdate the upload: its info (file store JSON or S3 info object) and its row.
      await backdate(expiring, id, 25 * 3_600_000);
      const head = await tus(expiring, 'HEAD', path, { token: erin.accessToken });
      assert.equal(head.status, 410, head.text);

      await runJob(expiring, EXPIRE_UPLOADS_JOB);
      assertProblem(await client(expiring).get(path, { token: erin.accessToken }), 404, 'not_found');
      assert.deepEqual(await storedUploadIds(expiring, path), []);
    } finally {
      await expiring.close();
    }
  });
});

/**
 * Sends `bytes` as a PATCH body promising more (node:http, so no pooled connection lingers after
 * it), then drops the connection before the request ends. Resolves once the socket is closed.
 */
function cutOff(target: TestApp, token: string, path: string, offset: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const request = httpRequest(new URL(path, target.url), {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${token}`,
        'tus-resumable': '1.0.0',
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
        'content-length': String(bytes.length + 1024 * 1024),
      },
    });
    request.on('error', () => {}); // the reset we cause
    request.on('close', () => resolve());
    request.on('response', (response) => {
      response.resume();
      assert.fail(`the cut-off PATCH was answered: ${response.statusCode}`);
    });
    // Everything is on its way; let it land, then hang up without ending the body.
    request.write(bytes, () => setTimeout(() => request.destroy(), 300));
  });
}

/** What storage holds for the upload at `path`: its tus files (local) or objects (S3). */
async function storedUploadIds(target: TestApp, path: string): Promise<string[]> {
  const id = path.split('/').pop() as string;
  if (target.config.s3 !== undefined) {
    const keys: string[] = [];
    for await (const blob of target.deps.blobs.list(`uploads/${id}/`)) keys.push(blob.key);
    return keys;
  }
  const { readdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const files = await readdir(join(target.config.dataDir, 'uploads'));
  return files.filter((file) => file.startsWith(id));
}

/** Moves an upload's creation `ms` into the past, in its stored info and its row. */
async function backdate(target: TestApp, id: string, ms: number): Promise<void> {
  const { Readable } = await import('node:stream');
  const then = new Date(Date.now() - ms);
  await target.deps.database.db.updateTable('resumable_uploads').set({ created_at: then }).where('id', '=', id).execute();
  if (target.config.s3 !== undefined) {
    const key = `uploads/${id}/info`;
    const blob = await target.deps.blobs.get(key);
    assert.ok(blob);
    const chunks: Buffer[] = [];
    for await (const chunk of blob.body) chunks.push(chunk as Buffer);
    const info = { ...JSON.parse(Buffer.concat(chunks).toString('utf8')), creation_date: then.toISOString() };
    await target.deps.blobs.put(key, Readable.from([Buffer.from(JSON.stringify(info))]), { maxBytes: 1 << 20 });
    return;
  }
  const { readFile, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const file = join(target.config.dataDir, 'uploads', `${id}.json`);
  const info = { ...JSON.parse(await readFile(file, 'utf8')), creation_date: then.toISOString() };
  await writeFile(file, JSON.stringify(info));
}
