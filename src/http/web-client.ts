import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { negotiate } from '@fastify/accept-negotiator';
import { errors } from './errors.ts';
import { matchesIfNoneMatch } from './byte-content.ts';
import { pagePolicy } from './security-headers.ts';
import { sendProblem } from './problems.ts';

/** Where `npm start` (web-client-build.ts) and `npm run build:web` put the built client. */
export const WEB_CLIENT_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url));
/** The client's page the social sign-in returns to (web/src/routes.tsx has the same path). */
export const WEB_CLIENT_AUTH_RETURN = '/auth/return';

/** Vite names each asset by a hash of its bytes: a changed file is a new URL, so the old one can be kept forever. */
const ASSET_CACHE = 'public, max-age=31536000, immutable';
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

type StaticFile = { type: string; etag: string; encodings: { identity: Buffer; br: Buffer; gzip: Buffer } };
type Build = { index: StaticFile; serviceWorker: StaticFile | undefined; assets: Map<string, StaticFile> };

export type WebClientOptions = {
  /** The built client (WEB_CLIENT_DIST; tests may point elsewhere). */
  distDir: string;
  servedOverHttps: boolean;
  /** Origins media may come from besides Plaza itself: the bucket's, when downloads redirect there. */
  mediaOrigins: readonly string[];
};

/**
 * Plaza serves its web client (web/): `index.html` at `/` and at every page of the client, its
 * hashed assets under `/assets/`, its service worker at `/sw.js`. A request is a client page when it
 * is a GET or HEAD that asks for HTML, whose path is not under one of Plaza's own top-level paths (`/v1`, `/docs`, `/metrics`, …:
 * the first segment of any route registered, so an unknown API path still gets its JSON 404).
 *
 * Files are read into memory once, at start-up, with their gzip and brotli forms (the build is a few
 * hundred KB). Without a build (`web/dist` missing: `npm start` builds it, see web-client-build.ts),
 * the API works and `/` answers 503 saying how to build it.
 *
 * Call it before any other route is registered: it learns Plaza's top-level paths as they are.
 */
export function registerWebClient(app: FastifyInstance, options: WebClientOptions): void {
  const serverSegments = new Set<string>();
  app.addHook('onRoute', (route) => {
    const segment = route.url.split('/')[1] ?? '';
    if (segment !== '' && segment !== '*') serverSegments.add(segment);
  });
  const build = loadBuild(options.distDir);
  const policy = clientPolicy(options);
  const sendIndex = (request: FastifyRequest, reply: FastifyReply) => {
    if (build === undefined) return sendProblem(request, reply, errors.unavailable('The web client is not built: run `npm run build:web` (npm start builds it when it can)'));
    reply.header('content-security-policy', policy).header('cache-control', 'no-cache');
    return sendFile(request, reply, build.index);
  };

  const hidden = { schema: { hide: true } };
  app.get('/', hidden, sendIndex);
  // Vite writes every asset straight into assets/, so one path segment names any of them.
  app.get('/assets/:name', hidden, (request, reply) => {
    const file = build?.assets.get((request.params as { name: string }).name);
    if (file === undefined) return sendProblem(request, reply, errors.notFound('route'));
    // A script or style is no page: the API's policy (nothing allowed) is the right one for it.
    reply.header('cache-control', ASSET_CACHE);
    return sendFile(request, reply, file);
  });

  // The service worker (web/public/sw.js) must come from the root to control every page, and must not
  // be kept: the browser checks it for updates on each visit, and a cached copy would hold back a fix.
  app.get('/sw.js', hidden, (request, reply) => {
    if (build?.serviceWorker === undefined) return sendProblem(request, reply, errors.notFound('route'));
    // A worker's policy is that of its script: it fetches nothing, and its notifications show Plaza's icon.
    reply.header('content-security-policy', "default-src 'none'; img-src 'self'").header('cache-control', 'no-cache');
    return sendFile(request, reply, build.serviceWorker);
  });

  // Client pages are paths no route has: answered here, before the not-found handler would.
  app.addHook('onRequest', (request, reply, done) => {
    if (!request.is404 || !isClientPage(request, serverSegments)) return done();
    void sendIndex(request, reply);
  });
}

function isClientPage(request: FastifyRequest, serverSegments: ReadonlySet<string>): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const accepts = (request.headers.accept ?? '').split(',').some((range) => range.split(';', 1)[0]?.trim() === 'text/html');
  const segment = request.url.split(/[/?#]/, 2)[1] ?? '';
  return accepts && !serverSegments.has(decodeURIComponentSafely(segment));
}

function decodeURIComponentSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function sendFile(request: FastifyRequest, reply: FastifyReply, file: StaticFile): FastifyReply {
  reply.header('etag', file.etag).header('vary', 'accept-encoding').type(file.type);
  if (matchesIfNoneMatch(request.headers['if-none-match'], file.etag)) return reply.code(304).send();
  const encoding = negotiate(request.headers['accept-encoding'] ?? '', ['br', 'gzip', 'identity']) ?? 'identity';
  if (encoding !== 'identity') reply.header('content-encoding', encoding);
  return reply.send(file.encodings[encoding]);
}

/**
 * The client's own policy: its scripts, styles and connections only from Plaza; images and media also
 * from `blob:` (photo previews before upload, recordings), `data:` (placeholders) and the bucket when
 * downloads go there; no inline script, no framing, no `<base>`, forms posting only here.
 */
function clientPolicy({ servedOverHttps, mediaOrigins }: WebClientOptions): string {
  const media = ["'self'", 'blob:', 'data:', ...mediaOrigins].join(' ');
  return pagePolicy(
    {
      'default-src': "'none'",
      'script-src': "'self'",
      'style-src': "'self'",
      'img-src': media,
      'media-src': media,
      'connect-src': "'self'",
      'font-src': "'self'",
      'manifest-src': "'self'",
      'worker-src': "'self'",
      'object-src': "'none'",
      'frame-ancestors': "'none'",
      'base-uri': "'none'",
      'form-action': "'self'",
    },
    servedOverHttps,
  );
}

function loadBuild(distDir: string): Build | undefined {
  const indexPath = join(distDir, 'index.html');
  if (!existsSync(indexPath)) return undefined;
  const assetsDir = join(distDir, 'assets');
  const names = existsSync(assetsDir) ? readdirSync(assetsDir, { encoding: 'utf8' }) : [];
  const assets = new Map<string, StaticFile>();
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (type !== undefined) assets.set(name, staticFile(readFileSync(join(assetsDir, name)), type));
  }
  const serviceWorkerPath = join(distDir, 'sw.js');
  const serviceWorker = existsSync(serviceWorkerPath) ? staticFile(readFileSync(serviceWorkerPath), TYPES['.js']!) : undefined;
  return { index: staticFile(readFileSync(indexPath), TYPES['.html']!), serviceWorker, assets };
}

function staticFile(bytes: Buffer, type: string): StaticFile {
  return {
    type,
    etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"`,
    encodings: {
      identity: bytes,
      gzip: gzipSync(bytes, { level: 9 }),
      br: brotliCompressSync(bytes, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length } }),
    },
  };
}
