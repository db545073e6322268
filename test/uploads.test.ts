import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { client, type Client } from './helpers/http.ts';
import { assertProblem, signUp, type TestSession } from './helpers/factories.ts';
import { EXPIRE_UPLOADS_JOB } from '../src/modules/uploads/jobs.ts';
import { assertNoErrorLogs, mediaRowsOf } from './helpers/media.ts';
import { runJob } from './helpers/wait.ts';
import * as samples from './helpers/media-samples.ts';
import { assertBecameMedia, create, idOf, metadata, offsetOf, patch, rawRequest, tus, wav } from './helpers/tus.ts';

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

  it('steps over stored upload info it cannot read, saying which, and still removes expired uploads', async (t) => {
    if (testApp.config.s3 === undefined) return t.skip('upload info lives in the blob store with S3 only');
    const expiring = await startApp({ UPLOAD_MAX_BYTES: String(MAX_BYTES) });
    try {
      const erin = await signUp(client(expiring));
      const path = await create(expiring, erin.accessToken, 1000);
      await backdate(expiring, idOf(path), 25 * 3_600_000);
      // Info no one can parse, as a foreign or damaged object would be.
      const { Readable } = await import('node:stream');
      await expiring.deps.blobs.put('uploads/UNREADABLE/info', Readable.from([Buffer.from('{not json')]), { maxBytes: 1024 });

      await runJob(expiring, EXPIRE_UPLOADS_JOB);
      assert.deepEqual(await storedUploadIds(expiring, path), []);
      const told = expiring.logs.filter((line) => line.uploadId === 'UNREADABLE');
      assert.equal(told.length, 1, 'the unreadable upload is logged, once');
      assert.match(String(told[0]?.msg), /could not read the info of an upload/);
      assert.ok(told[0]?.err, 'with its error');
    } finally {
      await expiring.close();
    }
  });
});

describe('tus request targets', () => {
  /**
   * Targets that name the caller's own upload to Fastify's router but, read another way, a second
   * upload: tus used to take the last `/` segment of the whole target, `#…` included.
   */
  function tricks(ownId: string, victimId: string, port: string): string[] {
    const own = `/v1/uploads/${ownId}`;
    return [
      `${own}#/${victimId}`,
      `${own}#/v1/uploads/${victimId}`,
      `${own}/#/${victimId}`,
      `${own}#/../${victimId}`,
      `${own}?#/${victimId}`,
      `${own}?x=1#/${victimId}`,
      `${own}?/${victimId}`,
      `${own}?id=${victimId}`,
      `${own}%23/${victimId}`,
      `${own}%2F${victimId}`,
      `${own}%2f..%2f${victimId}`,
      `${own}/../${victimId}`,
      `${own}/./${victimId}`,
      `${own}/%2E%2E/${victimId}`,
      `/v1/uploads/${victimId}/../${ownId}`,
      `${own};/${victimId}`,
      `${own};${victimId}`,
      `${own}//${victimId}`,
      `${own}/`,
      `/${own}#/${victimId}`,
      `/v1/uploads//${ownId}#/${victimId}`,
      `/v1//uploads/${ownId}#/${victimId}`,
      `/v1/uploads/%${ownId}`,
      `http://127.0.0.1:${port}${own}#/${victimId}`,
    ];
  }

  it("never reaches another user's upload through a fragment, a second id or path tricks", async () => {
    const [victim, mallory] = await Promise.all([signUp(api), signUp(api)]);
    const victimBytes = wav(1000);
    const victimPath = await create(testApp, victim.accessToken, victimBytes.length, 'victim.wav');
    assert.equal((await patch(testApp, victim.accessToken, victimPath, 0, victimBytes.subarray(0, 400))).status, 204);
    const ownPath = await create(testApp, mallory.accessToken, 1000, 'own.wav');
    const port = new URL(testApp.url).port;
    const auth = { authorization: `Bearer ${mallory.accessToken}`, 'tus-resumable': '1.0.0' };
    const rest = victimBytes.subarray(400);
    const attempts = tricks(idOf(ownPath), idOf(victimPath), port).flatMap((target) => [
      { target, method: 'HEAD', headers: auth, body: undefined },
      { target, method: 'GET', headers: { authorization: auth.authorization }, body: undefined },
      { target, method: 'PATCH', headers: { ...auth, 'upload-offset': '400', 'content-type': 'application/offset+octet-stream' }, body: rest },
      { target, method: 'DELETE', headers: auth, body: undefined },
    ]);

    const answered: string[] = [];
    for (const { target, method, headers, body } of attempts) {
      const answer = await rawRequest(testApp, method, target, headers, body);
      if (answer.status < 400 || answer.status >= 500) answered.push(`${method} ${target}: ${answer.status} ${answer.text}`);
      else if (method !== 'HEAD') assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/, `${method} ${target}`);
    }
    assert.deepEqual(answered, [], 'every trick is refused with a 4xx');
    const anonymous = await rawRequest(testApp, 'HEAD', `${ownPath}#/${idOf(victimPath)}`, { 'tus-resumable': '1.0.0' });
    assert.equal(anonymous.status, 401, 'without a token, 401 whatever the target');

    // The victim's upload is as it was, and still theirs to finish; the attacker got nothing.
    assert.equal(await offsetOf(testApp, victim.accessToken, victimPath), 400);
    const state = await api.get(victimPath, { token: victim.accessToken });
    assert.deepEqual(state.body, { id: idOf(victimPath), status: 'uploading', mediaId: null, offset: 400, length: 1000 });
    assert.equal(await offsetOf(testApp, mallory.accessToken, ownPath), 0, "the attacker's own upload is untouched too");
    assert.equal((await patch(testApp, victim.accessToken, victimPath, 400, rest)).status, 204);
    await assertBecameMedia(testApp, victim.accessToken, victimPath, victimBytes, 'victim.wav');
    assert.deepEqual(await mediaRowsOf(testApp, mallory.user.id), [], 'no media item belongs to the attacker');
  });

  it('answers the plain upload URL of another user with 404, an id alone granting nothing', async () => {
    const [victim, mallory] = await Promise.all([signUp(api), signUp(api)]);
    const victimPath = await create(testApp, victim.accessToken, 1000);
    assert.equal((await patch(testApp, victim.accessToken, victimPath, 0, wav(300))).status, 204);
    const auth = { authorization: `Bearer ${mallory.accessToken}`, 'tus-resumable': '1.0.0' };
    assert.equal((await rawRequest(testApp, 'HEAD', victimPath, auth)).status, 404);
    assertProblem(await rawRequest(testApp, 'GET', victimPath, auth), 404, 'not_found');
    const rest = { ...auth, 'upload-offset': '300', 'content-type': 'application/offset+octet-stream' };
    assertProblem(await rawRequest(testApp, 'PATCH', victimPath, rest, Buffer.alloc(700)), 404, 'not_found');
    assertProblem(await rawRequest(testApp, 'DELETE', victimPath, auth), 404, 'not_found');
    assert.equal(await offsetOf(testApp, victim.accessToken, victimPath), 300);
  });

  it('makes Location from the upload id alone, whatever Host, Forwarded and X-Forwarded-* say', async () => {
    const answer = await rawRequest(testApp, 'POST', '/v1/uploads', {
      authorization: `Bearer ${alice.accessToken}`,
      'tus-resumable': '1.0.0',
      'upload-length': '10',
      host: 'evil.example',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      forwarded: 'host=evil.example;proto=https',
    });
    assert.equal(answer.status, 201, answer.text);
    assert.match(answer.headers.get('location') ?? '', /^\/v1\/uploads\/[0-9A-Z]{26}$/);
  });

  it('takes Upload-Metadata as labels only: no path from them reaches storage', async () => {
    const bytes = wav(300);
    const label = `escape-${Date.now()}.wav`;
    const path = await create(testApp, alice.accessToken, bytes.length, `../../../../../tmp/${label}`, '../text/html');
    assert.equal((await patch(testApp, alice.accessToken, path, 0, bytes)).status, 204);
    await assertBecameMedia(testApp, alice.accessToken, path, bytes, label);
    const { readdir } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const written = [...(await readdir(testApp.config.dataDir, { recursive: true })), ...(await readdir(tmpdir()))];
    assert.deepEqual(written.filter((file) => file.includes(label)), []);
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
