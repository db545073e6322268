import type { FastifyPluginAsync } from 'fastify';
import { readAsset } from './assets.ts';

/** Icons change only with a release, and their links carry no version: a day, then asked again. */
const ICON_CACHE = 'public, max-age=86400';

/**
 * Plaza's icons (`/favicon.ico`, `/favicon.svg`), for the web client and for browsers that ask for
 * them unbidden. Hidden from the OpenAPI document: they are for people with a browser. An SVG is a
 * document: the API's policy (nothing allowed) keeps any script in it inert.
 */
export function icons(): FastifyPluginAsync {
  return async (app) => {
    // favicon.ico is plaza-mark.svg drawn at 16 and 32 px (PNGs in an ICO).
    const files = {
      '/favicon.svg': { type: 'image/svg+xml', bytes: readAsset('plaza-mark.svg') },
      '/favicon.ico': { type: 'image/x-icon', bytes: readAsset('favicon.ico') },
    };
    for (const [path, icon] of Object.entries(files)) {
      app.get(path, { schema: { hide: true } }, async (_request, reply) => reply.type(icon.type).header('cache-control', ICON_CACHE).send(icon.bytes));
    }
  };
}
