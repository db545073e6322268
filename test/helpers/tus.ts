import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { TestApp } from './app.ts';
import { client } from './http.ts';

/** Helpers for the resumable (tus) upload tests. */

export type TusAnswer = { status: number; headers: Headers; text: string; body: any };

/** One tus request (a fetch: tus needs nothing else). */
export async function tus(
  target: Pick<TestApp, 'url'>,
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

/**
 * One request written byte for byte on a connection of its own, its target exactly as given:
 * `fetch` and `node:http` clients drop or rewrite a `#…`, dot segments and the like.
 */
export function rawRequest(
  target: Pick<TestApp, 'url'>,
  method: string,
  requestTarget: string,
  headers: Record<string, string> = {},
  body: Buffer = Buffer.alloc(0),
): Promise<TusAnswer> {
  const { hostname, port } = new URL(target.url);
  const all: Record<string, string> = { host: `${hostname}:${port}`, connection: 'close', 'content-length': String(body.length), ...headers };
  const head = `${method} ${requestTarget} HTTP/1.1\r\n${Object.entries(all).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('close', () => {
      try {
        resolve(parseAnswer(Buffer.concat(chunks), method));
      } catch (error) {
        reject(error);
      }
    });
    socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  });
}

/** The first HTTP/1.1 answer in `bytes` (Content-Length framed, as Plaza's are). */
function parseAnswer(bytes: Buffer, method: string): TusAnswer {
  const end = bytes.indexOf('\r\n\r\n');
  assert.ok(end > 0, `an HTTP answer, got ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`);
  const [statusLine = '', ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const length = method === 'HEAD' ? 0 : Number(headers.get('content-length') ?? 0);
  const text = bytes.subarray(end + 4, end + 4 + length).toString('utf8');
  const type = headers.get('content-type') ?? '';
  return { status, headers, text, body: type.includes('json') && text !== '' ? JSON.parse(text) : text };
}

const b64 = (value: string) => Buffer.from(value, 'utf8').toString('base64');
export const metadata = (fileName: string, fileType: string) => `filename ${b64(fileName)},filetype ${b64(fileType)}`;

/** The upload id at the end of an upload path or URL. */
export const idOf = (path: string) => path.split('/').pop() as string;

/** Creates an upload of `length` bytes; returns its path (`/v1/uploads/<id>`). */
export async function create(target: Pick<TestApp, 'url'>, token: string, length: number, fileName = 'clip.wav', fileType = 'audio/wav'): Promise<string> {
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

export function patch(target: Pick<TestApp, 'url'>, token: string, path: string, offset: number, bytes: Buffer, signal?: AbortSignal): Promise<TusAnswer> {
  return tus(target, 'PATCH', path, {
    token,
    headers: { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
    body: bytes,
    ...(signal !== undefined && { signal }),
  });
}

export async function offsetOf(target: Pick<TestApp, 'url'>, token: string, path: string): Promise<number> {
  const answer = await tus(target, 'HEAD', path, { token });
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.headers.get('cache-control'), 'no-store');
  return Number(answer.headers.get('upload-offset'));
}

/** A WAV file of exactly `size` bytes (16-bit mono PCM, noise): an audio upload of any size. */
export function wav(size: number): Buffer {
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

/** Checks that the upload at `path` became a media item of `token`'s user holding `bytes`; resolves with its id. */
export async function assertBecameMedia(target: Pick<TestApp, 'url'>, token: string, path: string, bytes: Buffer, fileName: string): Promise<string> {
  const state = await client(target.url).get(path, { token });
  assert.equal(state.status, 200, state.text);
  assert.equal(state.body.status, 'done');
  assert.equal(typeof state.body.mediaId, 'string');
  assert.equal(state.body.length, bytes.length);
  const media = await client(target.url).get(`/v1/media/${state.body.mediaId}`, { token });
  assert.equal(media.status, 200, media.text);
  assert.equal(media.body.size, bytes.length);
  assert.equal(media.body.fileName, fileName);
  const content = await fetch(new URL(`/v1/media/${state.body.mediaId}/content`, target.url), { headers: { authorization: `Bearer ${token}` } });
  assert.equal(content.status, 200);
  assert.ok(Buffer.from(await content.arrayBuffer()).equals(bytes), 'the media item holds the uploaded bytes');
  return state.body.mediaId;
}
