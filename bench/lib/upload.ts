/**
 * Upload clients for the media suite: a WAV file of any size generated on the fly (never held in
 * memory), sent as one raw request body or through tus 1.0, over node:http with backpressure.
 */
import { randomBytes } from 'node:crypto';
import { request, type IncomingHttpHeaders, type ClientRequest } from 'node:http';

const WAV_HEADER_BYTES = 44;
/** The PCM bytes repeat this pseudo-random block, so no codec or disk can compress them away. */
const PATTERN = randomBytes(1024 * 1024);

/**
 * A 16-bit stereo 48 kHz PCM WAV of exactly `totalBytes`: a RIFF/WAVE header that declares its size,
 * then PCM bytes. Only its header and the 1 MiB pattern exist in memory.
 */
export class GeneratedWav {
  readonly totalBytes: number;
  readonly #header: Buffer;

  constructor(totalBytes: number) {
    const dataBytes = totalBytes - WAV_HEADER_BYTES;
    if (dataBytes < 0 || dataBytes % 4 !== 0 || totalBytes - 8 > 0xffff_ffff) {
      throw new Error(`a WAV file cannot be ${totalBytes} bytes here`);
    }
    const header = Buffer.alloc(WAV_HEADER_BYTES);
    header.write('RIFF', 0, 'latin1');
    header.writeUInt32LE(totalBytes - 8, 4);
    header.write('WAVE', 8, 'latin1');
    header.write('fmt ', 12, 'latin1');
    header.writeUInt32LE(16, 16); // fmt chunk size
    header.writeUInt16LE(1, 20); // PCM
    header.writeUInt16LE(2, 22); // channels
    header.writeUInt32LE(48_000, 24); // sample rate
    header.writeUInt32LE(48_000 * 4, 28); // byte rate
    header.writeUInt16LE(4, 32); // block align
    header.writeUInt16LE(16, 34); // bits per sample
    header.write('data', 36, 'latin1');
    header.writeUInt32LE(dataBytes, 40);
    this.totalBytes = totalBytes;
    this.#header = header;
  }

  /** Views (no copies) of bytes `start` (inclusive) to `end` (exclusive), at most 1 MiB each. */
  *pieces(start = 0, end = this.totalBytes): Generator<Buffer> {
    let at = start;
    if (at < WAV_HEADER_BYTES && at < end) {
      yield this.#header.subarray(at, Math.min(WAV_HEADER_BYTES, end));
      at = Math.min(WAV_HEADER_BYTES, end);
    }
    while (at < end) {
      const offset = (at - WAV_HEADER_BYTES) % PATTERN.length;
      const piece = PATTERN.subarray(offset, Math.min(PATTERN.length, offset + (end - at)));
      yield piece;
      at += piece.length;
    }
  }

  /** The whole file in memory: only for small ones. */
  toBuffer(): Buffer {
    return Buffer.concat([...this.pieces()]);
  }
}

export type Answer = { status: number; headers: IncomingHttpHeaders; text: string };

type Body = { wav: GeneratedWav; start?: number; end?: number };

/** One HTTP request; the body, if any, is streamed with backpressure. Resolves when the answer has ended. */
export function send(
  url: string,
  method: string,
  headers: Record<string, string | number>,
  body?: Body,
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        // An answer before the whole body (a refusal) ends the upload.
        if (!req.writableFinished) req.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else writeBody(req, body).then(() => req.end(), (error: unknown) => req.destroy(error as Error));
  });
}

async function writeBody(req: ClientRequest, { wav, start, end }: Body): Promise<void> {
  for (const piece of wav.pieces(start, end)) {
    if (req.destroyed) return;
    if (!req.write(piece)) await drainedOrClosed(req);
  }
}

/** Resolves at the next `drain` or `close`, leaving no listener behind. */
function drainedOrClosed(req: ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

/** Throws unless the answer has one of `statuses`; otherwise parses its JSON body, if any. */
export function expectStatus<T>(what: string, answer: Answer, ...statuses: number[]): T {
  if (!statuses.includes(answer.status)) {
    throw new Error(`${what} answered ${answer.status} (expected ${statuses.join(' or ')}): ${answer.text.slice(0, 500)}`);
  }
  return (answer.text === '' ? undefined : JSON.parse(answer.text)) as T;
}

export type MediaJson = { id: string; status: 'processing' | 'ready' | 'failed'; failure?: string | null };

/** `POST /v1/media` with the whole file as the raw body. */
export async function rawUpload(baseUrl: string, token: string, wav: GeneratedWav, fileName: string): Promise<MediaJson> {
  const answer = await send(
    `${baseUrl}/v1/media?fileName=${encodeURIComponent(fileName)}`,
    'POST',
    { authorization: `Bearer ${token}`, 'content-type': 'audio/wav', 'content-length': wav.totalBytes },
    { wav },
  );
  return expectStatus<MediaJson>(`POST /v1/media (${wav.totalBytes} bytes)`, answer, 202);
}

/** The server has no tus endpoint (yet). */
export class TusUnavailable extends Error {}

/**
 * tus 1.0 creation, then PATCH requests of `chunkBytes` each, then the media the upload became; and
 * how long the last PATCH took (the server completes the upload before answering it).
 */
export async function tusUpload(
  baseUrl: string,
  token: string,
  wav: GeneratedWav,
  fileName: string,
  chunkBytes: number,
): Promise<{ mediaId: string; lastPatchSeconds: number }> {
  const tus = { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0' };
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const created = await send(`${baseUrl}/v1/uploads`, 'POST', {
    ...tus,
    'upload-length': wav.totalBytes,
    'upload-metadata': `filename ${b64(fileName)},filetype ${b64('audio/wav')}`,
  });
  if (created.status === 404) throw new TusUnavailable(`POST /v1/uploads answered 404: ${created.text.slice(0, 300)}`);
  expectStatus('tus POST /v1/uploads', created, 201);
  const location = created.headers.location;
  if (location === undefined) throw new Error('tus POST /v1/uploads answered 201 without a Location');
  const uploadUrl = new URL(location, `${baseUrl}/v1/uploads`).href;
  let lastPatchSeconds = 0;
  for (let offset = 0; offset < wav.totalBytes; ) {
    const end = Math.min(wav.totalBytes, offset + chunkBytes);
    const started = performance.now();
    const patched = await send(
      uploadUrl,
      'PATCH',
      {
        ...tus,
        'content-type': 'application/offset+octet-stream',
        'upload-offset': offset,
        'content-length': end - offset,
      },
      { wav, start: offset, end },
    );
    expectStatus(`tus PATCH ${new URL(uploadUrl).pathname} at ${offset}`, patched, 204);
    const reached = Number(patched.headers['upload-offset']);
    if (reached !== end) throw new Error(`tus PATCH at ${offset} answered Upload-Offset ${reached}, expected ${end}`);
    offset = end;
    lastPatchSeconds = (performance.now() - started) / 1000;
  }
  const uploadId = new URL(uploadUrl).pathname.split('/').pop()!;
  const { mediaId } = await waitFor(`the media of tus upload ${uploadId}`, async () => {
    const answer = await send(`${baseUrl}/v1/uploads/${uploadId}`, 'GET', { authorization: `Bearer ${token}` });
    const state = expectStatus<{ status?: string; mediaId?: string | null }>(`GET /v1/uploads/${uploadId}`, answer, 200);
    if (state.status === 'failed') throw new Error(`tus upload ${uploadId} failed: ${answer.text.slice(0, 500)}`);
    return typeof state.mediaId === 'string' ? { mediaId: state.mediaId } : undefined;
  });
  return { mediaId, lastPatchSeconds };
}

export async function getMedia(baseUrl: string, token: string, id: string): Promise<MediaJson> {
  const answer = await send(`${baseUrl}/v1/media/${id}`, 'GET', { authorization: `Bearer ${token}` });
  return expectStatus<MediaJson>(`GET /v1/media/${id}`, answer, 200);
}

/** Polls until processing of media `id` has ended, and says how. */
export function settled(baseUrl: string, token: string, id: string, timeoutMs = 300_000): Promise<MediaJson> {
  return waitFor(
    `media ${id} to leave "processing"`,
    async () => {
      const media = await getMedia(baseUrl, token, id);
      return media.status === 'processing' ? undefined : media;
    },
    timeoutMs,
  );
}

const POLL_EVERY_MS = 50;

async function waitFor<T>(what: string, poll: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await poll();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_EVERY_MS));
  }
}
