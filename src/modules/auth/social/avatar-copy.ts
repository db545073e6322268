import { lookup, type LookupAddress } from 'node:dns';
import type { IncomingMessage } from 'node:http';
import { get, type RequestOptions } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { SocialProviderConfig } from '../../../config.ts';
import type { AvatarsService } from '../../avatars/service.ts';

/** Redirects followed to reach a picture, at most: providers' image hosts answer with one or two. */
const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Addresses a picture is never fetched from, unless it is on the provider's own origin (which Plaza
 * already calls, as configured): a picture URL is the provider's user's to choose at some providers,
 * and must not make Plaza call into its own network.
 */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
// Loopback, unspecified, unique-local, link-local, and IPv4 reached through IPv6 (mapped, NAT64).
for (const [network, prefix] of [['::1', 128], ['::', 128], ['fc00::', 7], ['fe80::', 10], ['::ffff:0:0', 96], ['64:ff9b::', 96]] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

const isPublic = (address: string, family: number) => !NON_PUBLIC.check(address, family === 6 ? 'ipv6' : 'ipv4');

/** Why a picture was not copied; logged, never answered: the sign-in goes on without it. */
class PictureRefused extends Error {}

/**
 * Resolves as `dns.lookup` does, refusing a name with any non-public address. The connection is made
 * to the address checked here, so the name cannot resolve elsewhere in between (DNS rebinding).
 */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  lookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error !== null) return callback(error, '');
    const first = addresses[0];
    if (first === undefined || !addresses.every((entry) => isPublic(entry.address, entry.family))) {
      return callback(new PictureRefused(`${hostname} has a non-public address`), '');
    }
    if (options.all === true) return callback(null, addresses);
    return callback(null, first.address, first.family);
  });
};

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
      if (!trusted && family !== 0 && !isPublic(host, family)) throw new PictureRefused(`${host} is not a public address`);
      const response = await open(url, {
        signal,
        headers: { accept: 'image/*', 'user-agent': 'plaza-avatar-copy' },
        ...(!trusted && { lookup: publicOnlyLookup }),
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
