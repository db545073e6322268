import { createECDH, createDecipheriv, hkdfSync, randomBytes, randomUUID, type ECDH } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importJWK, jwtVerify } from 'jose';
import { loopbackCertificate } from './identity-provider.ts';

/**
 * A push service (RFC 8030) on https://127.0.0.1, its certificate from the test CA of
 * `identity-provider.ts` (a server process trusts it through NODE_EXTRA_CA_CERTS=`caFile`). It checks
 * each push as a real one does — the VAPID JWT (RFC 8292: ES256 with the key in `k`, audience this
 * origin, expiry within 24 hours) — and, holding the browser's private keys, decrypts the aes128gcm
 * payload (RFC 8188, 8291). Each endpoint answers 201 unless told otherwise (`answer`).
 */
export type PushService = {
  readonly origin: string;
  readonly caFile: string;
  /** A subscription as a browser makes one here: a P-256 key pair and a 16-byte auth secret. */
  subscribe(): BrowserSubscription;
  /** New keys for this endpoint's browser (pushes decrypt with these only from now): what it posts then. */
  rekey(endpoint: string): BrowserSubscription;
  /** The next answers of this endpoint, in order (then 201 again). */
  answer(endpoint: string, ...answers: Answer[]): void;
  /** Every push received at this endpoint, in order, those answered with an error included. */
  received(endpoint: string): ReceivedPush[];
  close(): Promise<void>;
};

export type Answer = { status: number; headers?: Record<string, string> };

export type BrowserSubscription = {
  /** What `PushSubscription.toJSON()` gives, as a browser posts it. */
  readonly json: { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } };
  readonly endpoint: string;
};

export type ReceivedPush = {
  at: number;
  answered: number;
  ttl: string | undefined;
  urgency: string | undefined;
  /** The VAPID public key the push was signed with (the JWT verified against it). */
  vapidKey: string;
  /** The decrypted payload, parsed. */
  payload: any;
  /** The encrypted body's size in bytes. */
  bodyBytes: number;
  /** What was wrong with the push (none for a well-made one); such a push is answered 400/403. */
  problems: string[];
};

type Browser = { ecdh: ECDH; auth: Buffer };

export async function startPushService(): Promise<PushService> {
  const tls = await loopbackCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'plaza-push-service-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, tls.caCert);
  const browsers = new Map<string, Browser>();
  const answers = new Map<string, Answer[]>();
  const received = new Map<string, ReceivedPush[]>();
  let origin = '';

  function keyed(endpoint: string): BrowserSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    browsers.set(endpoint, { ecdh, auth });
    return { endpoint, json: { endpoint, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } } };
  }

  const server = createServer({ key: tls.key, cert: tls.cert }, async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const endpoint = `${origin}${request.url ?? ''}`;
    const browser = browsers.get(endpoint);
    if (request.method !== 'POST' || browser === undefined) return void response.writeHead(404).end();
    const push = await check(request.headers, Buffer.concat(chunks), browser, origin);
    const answer = push.problems.length > 0 ? { status: 400 } : (answers.get(endpoint)?.shift() ?? { status: 201 });
    received.get(endpoint)?.push({ ...push, answered: answer.status });
    response.writeHead(answer.status, answer.headers).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    caFile,
    subscribe() {
      const endpoint = `${origin}/push/${randomUUID()}`;
      received.set(endpoint, []);
      return keyed(endpoint);
    },
    rekey: (endpoint) => keyed(endpoint),
    answer(endpoint, ...next) {
      answers.set(endpoint, [...(answers.get(endpoint) ?? []), ...next]);
    },
    received: (endpoint) => [...(received.get(endpoint) ?? [])],
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** Checks a push's VAPID authorization and headers, and decrypts its body. */
async function check(headers: Record<string, string | string[] | undefined>, body: Buffer, browser: Browser, origin: string): Promise<Omit<ReceivedPush, 'answered'>> {
  const problems: string[] = [];
  const authorization = header(headers.authorization) ?? '';
  const match = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(authorization);
  const vapidKey = match?.[2] ?? '';
  if (match === null) problems.push(`authorization is not "vapid t=…, k=…": ${authorization}`);
  else {
    try {
      const point = Buffer.from(vapidKey, 'base64url');
      const key = await importJWK({ kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') }, 'ES256');
      const { payload } = await jwtVerify(match[1] as string, key, { algorithms: ['ES256'], audience: origin });
      const now = Date.now() / 1000;
      if (typeof payload.exp !== 'number' || payload.exp > now + 86_400) problems.push(`exp is not within 24 hours: ${payload.exp}`);
      if (typeof payload.sub !== 'string' || !/^(mailto:|https:)/.test(payload.sub)) problems.push(`sub is not a mailto: or https: contact: ${payload.sub}`);
    } catch (error) {
      problems.push(`the VAPID JWT does not verify: ${(error as Error).message}`);
    }
  }
  if (header(headers['content-encoding']) !== 'aes128gcm') problems.push(`content-encoding is ${header(headers['content-encoding'])}`);
  let payload: unknown;
  try {
    payload = JSON.parse(decrypt(body, browser).toString('utf8'));
  } catch (error) {
    problems.push(`the payload does not decrypt: ${(error as Error).message}`);
  }
  return { at: Date.now(), ttl: header(headers.ttl), urgency: header(headers.urgency), vapidKey, payload, bodyBytes: body.length, problems };
}

/** RFC 8291 §3.4 and RFC 8188 §2: one record, as a browser decrypts it with its private key and auth secret. */
function decrypt(body: Buffer, browser: Browser): Buffer {
  const salt = body.subarray(0, 16);
  const idLength = body.readUInt8(20);
  const serverKey = body.subarray(21, 21 + idLength);
  const record = body.subarray(21 + idLength);
  const secret = browser.ecdh.computeSecret(serverKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), browser.ecdh.getPublicKey(), serverKey]);
  const ikm = Buffer.from(hkdfSync('sha256', secret, browser.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  // The last record's padding: a 2 delimiter, then zeros.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  if (padded[end] !== 2) throw new Error('no last-record padding delimiter');
  return padded.subarray(0, end);
}
