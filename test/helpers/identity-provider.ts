import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';
import selfsigned from 'selfsigned';

/**
 * A real OpenID provider (the `oidc-provider` package) on https://127.0.0.1, its certificate issued
 * by a test certificate authority made here. A server process trusts that authority only through
 * NODE_EXTRA_CA_CERTS=`caFile`, as it would a corporate one: Plaza's code has no test exception.
 *
 * ID tokens are minted with the provider's own signing key (`sign`), which it publishes at its
 * `jwks_uri`; `rotate` replaces that key, as a provider's key rotation does.
 */
export type IdentityProvider = {
  readonly issuer: string;
  /** The test CA's certificate (PEM), for NODE_EXTRA_CA_CERTS; the same CA for every provider of the process. */
  readonly caFile: string;
  /** An RS256 ID token from this issuer, each one different (a fresh `jti`); `claims` override the defaults (aud, sub, iat, exp, …). */
  sign(claims: JWTPayload & Record<string, unknown>, options?: { key?: CryptoKey; kid?: string }): Promise<string>;
  /** The current signing key, public part (for forging tokens with it as an HMAC secret). */
  publicJwk(): JWK;
  /** A new signing key replaces the old one in the provider's key set. */
  rotate(): Promise<void>;
  /** How many times the key set was fetched. */
  jwksFetches(): number;
  close(): Promise<void>;
};

type SigningKey = { privateKey: CryptoKey; publicJwk: JWK; privateJwk: JWK; kid: string };

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  return {
    privateKey,
    kid,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' },
  };
}

/** One test CA per test process: every provider's certificate is its, so one NODE_EXTRA_CA_CERTS file trusts them all. */
let testCa: ReturnType<typeof selfsigned.generate> | undefined;

/** The test CA, and a certificate for 127.0.0.1 that it issued. */
async function loopbackCertificate() {
  testCa ??= selfsigned.generate([{ name: 'commonName', value: `Plaza test CA ${randomBytes(4).toString('hex')}` }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const ca = await testCa;
  const leaf = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { caCert: ca.cert, key: leaf.private, cert: leaf.cert };
}

export async function startIdentityProvider(): Promise<IdentityProvider> {
  const tls = await loopbackCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'plaza-idp-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, tls.caCert);

  let key = await newSigningKey();
  let fetches = 0;
  let handle: ReturnType<Provider['callback']> | undefined;
  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (request, response) => {
    if (new URL(request.url ?? '/', 'https://idp').pathname === '/jwks') fetches += 1;
    handle?.(request, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provide = () => {
    const provider = new Provider(issuer, {
      clients: [{ client_id: 'plaza-web', client_secret: 'plaza-web-secret', redirect_uris: ['https://app.example/callback'] }],
      jwks: { keys: [key.privateJwk] },
      cookies: { keys: [randomBytes(16).toString('hex')] },
    });
    handle = provider.callback();
  };
  provide();

  return {
    issuer,
    caFile,
    async sign(claims, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: issuer, aud: 'plaza-web', sub: randomUUID(), iat: now, exp: now + 600, jti: randomUUID(), ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? key.kid, typ: 'JWT' })
        .sign(options.key ?? key.privateKey);
    },
    publicJwk: () => key.publicJwk,
    async rotate() {
      key = await newSigningKey();
      provide();
    },
    jwksFetches: () => fetches,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An https "issuer" whose server accepts connections and never answers a byte: a provider hanging. */
export async function startSilentIssuer(): Promise<{ issuer: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    issuer: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** An https issuer on a port nothing listens on: a provider down. */
export async function closedIssuer(): Promise<string> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `https://127.0.0.1:${port}`;
}

/** A request to a provider's API, as `startProviderApi`'s handler sees it. */
export type ProviderApiRequest = { method: string; path: string; query: URLSearchParams; headers: Record<string, string | string[] | undefined>; body: string };
/** The handler's answer: a status with a JSON body (or raw `text`), or `hang` for a provider that never answers. */
export type ProviderApiAnswer = { status: number; json?: unknown; text?: string } | 'hang';

/**
 * A provider's REST API (user info, token inspection) on https://127.0.0.1, its certificate from the
 * same test CA as `startIdentityProvider`'s; `caFile` is that CA for NODE_EXTRA_CA_CERTS. Every
 * request goes to `handle`.
 */
export async function startProviderApi(
  handle: (request: ProviderApiRequest) => ProviderApiAnswer,
): Promise<{ url: string; caFile: string; close(): Promise<void> }> {
  const tls = await loopbackCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'plaza-provider-api-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, tls.caCert);
  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url ?? '/', 'https://provider');
    const answer = handle({ method: request.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: request.headers, body: Buffer.concat(chunks).toString() });
    if (answer === 'hang') return;
    const body = answer.text ?? JSON.stringify(answer.json);
    response.writeHead(answer.status, { 'content-type': answer.text === undefined ? 'application/json' : 'text/html' }).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    caFile,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
