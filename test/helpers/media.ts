import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { TestApp } from './app.ts';
import { signUp, type TestSession } from './factories.ts';
import type { Answer, Client } from './http.ts';
import { eventually } from './wait.ts';

/** Helpers for the media and recordings tests: uploads, polling for processing, what storage holds. */

export type UploadOptions = {
  fileName?: string;
  /** Sent as is; the server ignores it for /v1/media (the bytes are sniffed). */
  contentType?: string;
  headers?: Record<string, string>;
};

/** `POST /v1/media` with a raw body. */
export function uploadRaw(api: Client, token: string | undefined, bytes: Buffer, options: UploadOptions = {}): Promise<Answer> {
  const query = options.fileName === undefined ? '' : `?fileName=${encodeURIComponent(options.fileName)}`;
  return api.call('POST', `/v1/media${query}`, {
    token,
    raw: bytes,
    headers: { 'content-type': options.contentType ?? 'application/octet-stream', ...options.headers },
  });
}

/** `POST /v1/media` as `multipart/form-data`, the bytes in `field` (default `file`). */
export async function uploadMultipart(
  api: Client,
  token: string | undefined,
  bytes: Buffer,
  options: { field?: string; fileName?: string; contentType?: string; extraFields?: Record<string, string> } = {},
): Promise<Answer> {
  const boundary = `----plaza-test-${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(options.extraFields ?? {})) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  const fileName = options.fileName === undefined ? '' : `; filename="${options.fileName}"`;
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${options.field ?? 'file'}"${fileName}\r\n` +
        `Content-Type: ${options.contentType ?? 'application/octet-stream'}\r\n\r\n`,
    ),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return api.call('POST', '/v1/media', {
    token,
    raw: Buffer.concat(parts),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  });
}

/** `POST /v1/media` streamed chunked, without a Content-Length: the server learns the size only by reading. */
export async function uploadStreamed(testApp: TestApp, token: string, bytes: Buffer, path = '/v1/media'): Promise<Answer> {
  const response = await fetch(new URL(path, testApp.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: new Blob([bytes]).stream(),
    duplex: 'half',
  } as RequestInit);
  const text = await response.text();
  const body = (response.headers.get('content-type') ?? '').includes('json') && text !== '' ? JSON.parse(text) : text;
  return { status: response.status, headers: response.headers, body, text };
}

/** `PUT /v1/recordings/{fileName}`; `fileName` goes into the path as given (encode it yourself). */
export function putRecording(api: Client, token: string | undefined, pathName: string, bytes: Buffer, contentType = 'audio/wav'): Promise<Answer> {
  return api.call('PUT', `/v1/recordings/${pathName}`, { token, raw: bytes, headers: { 'content-type': contentType } });
}

/** Polls `GET /v1/media/{id}` until it leaves `processing`; returns the settled Media. */
export function waitForMedia(api: Client, token: string, id: string, timeoutMs = 30_000): Promise<any> {
  return eventually(async () => {
    const answer = await api.get(`/v1/media/${id}`, { token });
    assert.equal(answer.status, 200, answer.text);
    assert.notEqual(answer.body.status, 'processing', `media ${id} still processing after ${timeoutMs} ms`);
    return answer.body;
  }, timeoutMs);
}

/** Uploads raw bytes, expects 202 `processing`, and waits for the outcome. */
export async function uploadAndSettle(api: Client, token: string, bytes: Buffer, options: UploadOptions = {}): Promise<any> {
  const answer = await uploadRaw(api, token, bytes, options);
  assert.equal(answer.status, 202, answer.text);
  assert.equal(answer.body.status, 'processing');
  return waitForMedia(api, token, answer.body.id);
}

/** Every blob key under `prefix`, sorted. */
export async function blobKeys(testApp: TestApp, prefix = 'media/'): Promise<string[]> {
  const keys: string[] = [];
  for await (const blob of testApp.deps.blobs.list(prefix)) keys.push(blob.key);
  return keys.sort();
}

/** Media rows (posts' media and recordings) of one owner, straight from the database, oldest first. */
export async function mediaRowsOf(testApp: TestApp, ownerId: string): Promise<{ id: string; purpose: string; file_name: string }[]> {
  return testApp.deps.database.db
    .selectFrom('media')
    .select(['id', 'purpose', 'file_name'])
    .where('owner_id', '=', ownerId)
    .orderBy('id')
    .execute();
}

/**
 * Sends the head of a raw upload with a Content-Length promising more, then drops the connection.
 * Resolves once the socket is closed.
 */
export function cutOffUpload(testApp: TestApp, path: string, token: string, head: Buffer, declared: number, method = 'POST'): Promise<void> {
  return new Promise((resolve) => {
    const url = new URL(path, testApp.url);
    const request = httpRequest(url, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(declared) },
    });
    request.on('error', () => {}); // the reset we cause
    request.on('close', () => resolve());
    request.on('response', (response) => response.resume());
    request.write(head, () => {
      setTimeout(() => request.destroy(), 150);
    });
  });
}

/** The bytes of a URL (absolute or relative to the app) without a bearer token unless given. */
export async function fetchBytes(
  testApp: TestApp,
  path: string,
  options: { token?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; bytes: Buffer; json: any }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(new URL(path, testApp.url), { headers });
  const bytes = Buffer.from(await response.arrayBuffer());
  const type = response.headers.get('content-type') ?? '';
  const json = type.includes('json') && bytes.length > 0 ? JSON.parse(bytes.toString('utf8')) : undefined;
  return { status: response.status, headers: response.headers, bytes, json };
}

/** Asserts that the app logged nothing at level error (50) or above. */
export function assertNoErrorLogs(testApp: TestApp): void {
  const bad = testApp.logs.filter((line) => typeof line.level === 'number' && line.level >= 50);
  assert.deepEqual(bad, [], 'no error-level log lines');
}

/** Files of writes in progress in the local blob store (none on S3, where there is no such directory). */
export async function pendingBlobWrites(testApp: TestApp): Promise<string[]> {
  return readdir(join(testApp.config.dataDir, 'blobs', '.tmp')).catch(() => []);
}

/** Has a fresh user's upload refused, and checks it left no row and no bytes behind. */
export async function assertRefusedLeavesNothing(
  testApp: TestApp,
  api: Client,
  refuse: (session: TestSession) => Promise<void>,
): Promise<void> {
  const user = await signUp(api);
  const blobsBefore = await blobKeys(testApp, '');
  await refuse(user);
  assert.deepEqual(await mediaRowsOf(testApp, user.user.id), [], 'no row');
  const added = (await blobKeys(testApp, '')).filter((key) => !blobsBefore.includes(key) && key.includes(user.user.id));
  assert.deepEqual(added, [], 'no bytes');
}
