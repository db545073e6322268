import type { IncomingMessage } from 'node:http';
import { get, type RequestOptions } from 'node:https';
import { isIP } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { isPublicAddress, publicOnlyLookup } from '#http/public-addresses.ts';
import type { SocialProviderConfig } from '../../../config.ts';
import type { AvatarsService } from '../../avatars/service.ts';

/** Redirects followed to reach a picture, at most: providers' image hosts answer with one or two. */
const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Why a picture was not copied; logged, never answered: the sign-in goes on without it. */
class PictureRefused extends Error {}

/**
 * A picture URL is the provider's user's to choose at some providers: it is fetched from public
 * addresses only, unless it is on the provider's own origin (which Plaza already calls, as configured).
 */
const publicLookup = publicOnlyLookup((hostname) => new PictureRefused(`${hostname} has a non-public address`));

function open(url: URL, options: RequestOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => get(url, options, resolve).on('error', reject));
}

export type AvatarCopy = ReturnType<typeof createAvatarCopy>;

/**
 * Copies the picture a provider offers for a new user into their Plaza profile image, as if they had
 * uploaded it: through the avatars module, which checks it is an image, re-encodes and stores it, so
 * the provider's URL is never shown. Best effort: any failure is logged and the user just has no
 * image. Fetched over https only, following at most MAX_REDIRECTS redirects, from public addresses
 * (or the provider's own origin), within `timeoutMs` for the whole download and the avatars' byte limit.
 */
export function createAvatarCopy(deps: { avatars: Pick<AvatarsService, 'set'>; timeoutMs: number; logger: Pick<FastifyBaseLogger, 'warn'> }) {
  const { avatars, timeoutMs, logger } = deps;

  async function fetchPicture(start: URL, trustedOrigins: ReadonlySet<string>, signal: AbortSignal): Promise<IncomingMessage> {
    let url = start;
    for (let redirects = 0; ; redirects += 1) {
      if (url.protocol !== 'https:') throw new PictureRefused(`not an https URL: ${url.protocol}`);
      const trusted = trustedOrigins.has(url.origin);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const family = isIP(host);
      // An address literal is connected to without a lookup: checked here.
      if (!trusted && family !== 0 && !isPublicAddress(host, family)) throw new PictureRefused(`${host} is not a public address`);
      const response = await open(url, {
        signal,
        headers: { accept: 'image/*', 'user-agent': 'plaza-avatar-copy' },
        ...(!trusted && { lookup: publicLookup }),
      });
      if (response.statusCode === 200) return response;
      response.destroy();
      const location = response.headers.location;
      if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined) throw new PictureRefused(`status ${response.statusCode}`);
      if (redirects === MAX_REDIRECTS) throw new PictureRefused(`more than ${MAX_REDIRECTS} redirects`);
      url = new URL(location, url);
    }
  }

  return {
    /** Sets `picture` (the provider's URL for it) as the new user's profile image, if it can within the bounds. */
    async copy(userId: string, provider: SocialProviderConfig, picture: string | undefined): Promise<void> {
      if (picture === undefined || !URL.canParse(picture)) return;
      const trustedOrigins = new Set([provider.issuer, provider.api].flatMap((url) => (url !== undefined && URL.canParse(url) ? [new URL(url).origin] : [])));
      const signal = AbortSignal.timeout(timeoutMs);
      let response: IncomingMessage | undefined;
      try {
        response = await fetchPicture(new URL(picture), trustedOrigins, signal);
        const length = Number(response.headers['content-length']);
        await avatars.set(userId, { body: response, fileName: undefined, declaredBytes: Number.isSafeInteger(length) ? length : undefined });
      } catch (error) {
        // The URL's query may carry a provider's signature: only where it points is logged.
        const reason = signal.aborted ? new PictureRefused(`the picture did not arrive within ${timeoutMs} ms`, { cause: error }) : error;
        logger.warn({ err: reason, provider: provider.id, userId, picture: new URL(picture).origin }, 'social sign-in: the provider picture was not copied');
      } finally {
        response?.destroy();
      }
    },
  };
}
