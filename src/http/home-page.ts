import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { readAsset } from './assets.ts';
import { matchesIfNoneMatch } from './byte-content.ts';
import { pagePolicy } from './security-headers.ts';

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}' +
  'h1{display:flex;align-items:center;gap:.6rem;margin:0}code{font-size:.95em}li{margin:.3rem 0}';
/** Icons change only with a release, and their links carry no version: a day, then asked again. */
const ICON_CACHE = 'public, max-age=86400';

/**
 * A page at `/` naming Plaza and its version, with links to the documentation and the service
 * routes, and Plaza's icons (`/favicon.ico`, `/favicon.svg`), until the web client takes `/` over.
 * Hidden from the OpenAPI document: they are for people with a browser, not API clients, and `/`
 * will not stay. The page runs no script, and its policy allows its one inline style (by hash) and
 * its own icon, nothing else.
 */
export function homePage(site: { version: string; servedOverHttps: boolean }): FastifyPluginAsync {
  return async (app) => {
    const page = textWithTag(pageHtml(site.version));
    const policy = pagePolicy(
      {
        'default-src': "'none'",
        'img-src': "'self'",
        'style-src': `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
        'base-uri': "'none'",
        'form-action': "'none'",
        'frame-ancestors': "'none'",
      },
      site.servedOverHttps,
    );
    // favicon.ico is plaza-mark.svg drawn at 16 and 32 px (PNGs in an ICO), for browsers that ask for it unbidden.
    const icons = {
      '/favicon.svg': { type: 'image/svg+xml', bytes: readAsset('plaza-mark.svg') },
      '/favicon.ico': { type: 'image/x-icon', bytes: readAsset('favicon.ico') },
    };
    const hidden = { schema: { hide: true } };

    app.get('/', hidden, async (request, reply) => {
      reply.header('content-security-policy', policy).header('etag', page.etag).header('cache-control', 'no-cache');
      if (matchesIfNoneMatch(request.headers['if-none-match'], page.etag)) return reply.code(304).send();
      return reply.type('text/html; charset=utf-8').send(page.text);
    });
    for (const [path, icon] of Object.entries(icons)) {
      app.get(path, hidden, async (_request, reply) => reply.type(icon.type).header('cache-control', ICON_CACHE).send(icon.bytes));
    }
  };
}

function pageHtml(givenVersion: string): string {
  // Written into HTML: a version is semver, and anything else is dropped.
  const version = givenVersion.replace(/[^\w.+-]/g, '');
  const link = (path: string, what: string) => `<li><a href="${path.slice(1)}"><code>${path}</code></a> — ${what}</li>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Plaza ${version}</title>
<link rel="icon" href="favicon.svg" type="image/svg+xml">
<style>${STYLE}</style>
</head>
<body>
<h1><img src="favicon.svg" alt="" width="40" height="40">Plaza</h1>
<p>Version ${version}. The backend of a media-centred social network; a web client will live here.</p>
<ul>
${link('/docs', 'the API, interactive')}
${link('/openapi.json', 'the OpenAPI 3.1 document')}
${link('/healthz', 'liveness')}
${link('/readyz', 'readiness of the database, storage and Redis')}
${link('/ping', 'pong')}
</ul>
</body>
</html>
`;
}

function textWithTag(text: string): { text: string; etag: string } {
  return { text, etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 22)}"` };
}
