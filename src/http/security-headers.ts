import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';

/**
 * Helmet's security headers on every answer. They never vary by request, so helmet runs once, at
 * start-up, and each request gets a copy: running its middleware per request cost 1–2% of the CPU of a
 * timeline page (and @fastify/helmet, which also rebuilds it per request, 3% of a memo page).
 * The API serves JSON and media, never pages, so its content security policy allows nothing;
 * the pages (`/`, `/docs`) set their own with `pagePolicy`.
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  const headers = helmetHeaders();
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}

function helmetHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  const applyHeaders = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  });
  let failure: unknown;
  applyHeaders({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => void (failure = error));
  if (failure !== undefined) throw failure;
  return headers;
}

/**
 * A page's content security policy: `directives`, plus `upgrade-insecure-requests` when Plaza is
 * served over https. Sent over plain http (`HOST=0.0.0.0`, opened at a LAN address), that directive
 * makes the browser fetch the page's own scripts and styles over https, where nothing answers, and
 * the page stays blank.
 */
export function pagePolicy(directives: Record<string, string>, servedOverHttps: boolean): string {
  const policy = Object.entries(directives).map(([name, value]) => `${name} ${value}`);
  return [...policy, ...(servedOverHttps ? ['upgrade-insecure-requests'] : [])].join('; ');
}

/** Whether Plaza is served over https, as PUBLIC_URL says; without it, nothing says so. */
export function servedOverHttps(publicUrl: string): boolean {
  return publicUrl.startsWith('https://');
}
