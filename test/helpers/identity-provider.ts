import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { parseSetCookie } from 'cookie';
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
  /** How many times the discovery document was fetched. */
  discoveryFetches(): number;
  /** What the provider says of the account `sub` once someone signs in as it (login = `sub`): email, email_verified, name. */
  setAccount(sub: string, claims: Record<string, unknown>): void;
  /** Serves `answer` at a new URL of this provider's origin (as a user's `picture`), and returns that URL. */
  servePicture(answer: PictureAnswer): string;
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
export async function loopbackCertificate() {
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

/** A client registered at the provider; `startIdentityProvider`'s default is `plaza-web`, for native tokens only. */
export type IdentityProviderClient = { client_id: string; client_secret: string; redirect_uris: string[] };

/**
 * A real OpenID provider; `clients` are the apps registered there, for the web flow (its dev
 * interactions sign in as any `login`: see `Browser.signInAt`).
 */
export async function startIdentityProvider(options: { clients?: IdentityProviderClient[] } = {}): Promise<IdentityProvider> {
  const tls = await loopbackCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'plaza-idp-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, tls.caCert);

  let key = await newSigningKey();
  let fetches = 0;
  let discoveries = 0;
  const accounts = new Map<string, Record<string, unknown>>();
  const pictures = new Map<string, PictureAnswer>();
  let handle: ReturnType<Provider['callback']> | undefined;
  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (request, response) => {
    const { pathname } = new URL(request.url ?? '/', 'https://idp');
    if (pathname === '/jwks') fetches += 1;
    if (pathname === '/.well-known/openid-configuration') discoveries += 1;
    const picture = pictures.get(new URL(request.url ?? '/', 'https://idp').pathname);
    if (picture !== undefined) return answerPicture(picture, response);
    handle?.(request, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provide = () => {
    const provider = new Provider(issuer, {
      clients: options.clients ?? [{ client_id: 'plaza-web', client_secret: 'plaza-web-secret', redirect_uris: ['https://app.example/callback'] }],
      jwks: { keys: [key.privateJwk] },
      cookies: { keys: [randomBytes(16).toString('hex')] },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      // The scopes' claims go into the ID token too, as Google's and most providers' do.
      conformIdTokenClaims: false,
      findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, ...accounts.get(sub) }) }),
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
    discoveryFetches: () => discoveries,
    setAccount: (sub, claims) => void accounts.set(sub, claims),
    servePicture(answer) {
      const path = `/pictures/${randomUUID()}`;
      pictures.set(path, answer);
      return `${issuer}${path}`;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What a picture URL answers: bytes of a type, a redirect, or `hang` (the headers, then never a byte more). */
export type PictureAnswer = { status?: number; contentType?: string; body?: Buffer; location?: string } | 'hang';

function answerPicture(answer: PictureAnswer, response: ServerResponse): void {
  if (answer === 'hang') {
    response.writeHead(200, { 'content-type': 'image/png' }).flushHeaders();
    return;
  }
  const headers = { 'content-type': answer.contentType ?? 'image/png', ...(answer.location !== undefined && { location: answer.location }) };
  response.writeHead(answer.status ?? 200, headers).end(answer.body);
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
export type ProviderApiAnswer = { status: number; json?: unknown; text?: string } | { status: number; bytes: Buffer; contentType: string } | 'hang';

/**
 * A provider's REST API (user info, token inspection) on https://127.0.0.1, its certificate from the
 * same test CA as `startIdentityProvider`'s; `caFile` is that CA for NODE_EXTRA_CA_CERTS. Every
 * request goes to `handle`.
 */
export async function startProviderApi(
  handle: (request: ProviderApiRequest) => ProviderApiAnswer | Promise<ProviderApiAnswer>,
): Promise<{ url: string; caFile: string; close(): Promise<void> }> {
  const tls = await loopbackCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'plaza-provider-api-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, tls.caCert);
  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url ?? '/', 'https://provider');
    const answer = await handle({ method: request.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: request.headers, body: Buffer.concat(chunks).toString() });
    if (answer === 'hang') return;
    if ('bytes' in answer) return void response.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.bytes);
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

/** An answer to one of `Browser`'s requests. */
export type BrowserAnswer = { status: number; location: string | undefined; body: string };

/**
 * A browser, as far as sign-in flows need one: a cookie jar per host, requests that trust the test
 * CA, and redirects not followed (the test reads each `Location`). `rewrite` maps a URL before it is
 * requested: PUBLIC_URL's origin to the port the server under test listens on.
 */
export class Browser {
  readonly #jar = new Map<string, Map<string, string>>();
  readonly #ca: string;
  readonly #rewrite: (url: string) => string;

  constructor(caFile: string, rewrite: (url: string) => string = (url) => url) {
    this.#ca = readFileSync(caFile, 'utf8');
    this.#rewrite = rewrite;
  }

  /** The cookies this browser holds for `url`'s host. */
  cookies(url: string): Map<string, string> {
    const host = new URL(this.#rewrite(url)).host;
    let cookies = this.#jar.get(host);
    if (cookies === undefined) this.#jar.set(host, (cookies = new Map()));
    return cookies;
  }

  async request(url: string, options: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<BrowserAnswer> {
    const target = new URL(this.#rewrite(url));
    const cookies = this.cookies(target.href);
    const body = options.form === undefined ? undefined : new URLSearchParams(options.form).toString();
    const headers: Record<string, string> = {
      ...(cookies.size > 0 && { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') }),
      ...(body !== undefined && { 'content-type': 'application/x-www-form-urlencoded' }),
      ...options.headers,
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(target, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, ca: this.#ca });
    request.end(body);
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    for (const line of response.headers['set-cookie'] ?? []) {
      const cookie = parseSetCookie(line);
      if (cookie.maxAge === 0 || cookie.value === undefined || cookie.value === '') cookies.delete(cookie.name);
      else cookies.set(cookie.name, cookie.value);
    }
    const location = response.headers.location === undefined ? undefined : new URL(response.headers.location, target).href;
    return { status: response.statusCode ?? 0, location, body: Buffer.concat(chunks).toString() };
  }

  /**
   * Signs in at an `oidc-provider` as `login` from its authorization URL, through its login and
   * consent pages (or `abort`s there, as a user who cancels): the URL it sends the browser back to.
   */
  async signInAt(authorizationUrl: string, login: string, options: { abort?: boolean } = {}): Promise<string> {
    let next = authorizationUrl;
    for (let step = 0; step < 12; step += 1) {
      const answer = await this.request(next);
      const location = answer.location;
      if (location === undefined) throw new Error(`the provider answered ${answer.status} at ${next}: ${answer.body.slice(0, 300)}`);
      const url = new URL(location);
      if (url.origin !== new URL(authorizationUrl).origin) return location;
      const interaction = /^\/interaction\/([^/]+)$/.exec(url.pathname);
      if (interaction === null) {
        next = location;
        continue;
      }
      if (options.abort === true) {
        next = `${url.origin}${url.pathname}/abort`;
        continue;
      }
      const page = await this.request(location);
      const prompt: Record<string, string> = page.body.includes('name="login"') ? { prompt: 'login', login, password: 'any' } : { prompt: 'consent' };
      const submitted = await this.request(location, { form: prompt });
      if (submitted.location === undefined) throw new Error(`the provider answered ${submitted.status} to the ${prompt.prompt} form: ${submitted.body.slice(0, 300)}`);
      next = submitted.location;
    }
    throw new Error('the provider never sent the browser back');
  }
}
