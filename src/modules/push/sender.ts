import type { IncomingMessage } from 'node:http';
import { Agent, request, type RequestOptions } from 'node:https';
import { isIP } from 'node:net';
import { isPublicAddress, publicOnlyLookup } from '#http/public-addresses.ts';

/** What a push service answered, as far as Plaza acts on it (RFC 8030 §5, §8.4). */
export type PushOutcome =
  | { kind: 'sent' }
  /** 404/410: the subscription is gone for good. Other 4xx but 408/429: refused for good (a bad key, a bad JWT). */
  | { kind: 'gone' | 'refused'; status: number }
  /** 408, 429, 5xx, or no answer: try again, after `retryAfterSeconds` when the service said. */
  | { kind: 'retry'; status: number | undefined; retryAfterSeconds: number | undefined; reason: string }
  /** The endpoint is at an address Plaza does not call (its own network). */
  | { kind: 'unreachable'; reason: string };

/** A push request as `web-push` makes it: encrypted body, VAPID Authorization, TTL and Urgency. */
export type PushRequest = { endpoint: string; headers: Record<string, string | number>; body: Buffer | null };

class AddressRefused extends Error {}

const publicLookup = publicOnlyLookup((hostname) => new AddressRefused(`${hostname} has a non-public address`));

/** Most of an answer's body read (and dropped): push services answer with a few bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Posts pushes over https, to public addresses only but at `internalOrigins` (push services of the
 * operator's own network, configured as such). Never throws: every failure is an outcome.
 */
export function createPushSender(options: { internalOrigins: readonly string[]; timeoutMs: number }) {
  const internal = new Set(options.internalOrigins);
  // Connections are kept for the next push to the same service (a TLS handshake costs more than a
  // push): the address a kept one goes to was checked when it was opened.
  const agents = { public: new Agent({ keepAlive: true, lookup: publicLookup }), internal: new Agent({ keepAlive: true }) };

  function post(url: URL, push: PushRequest, requestOptions: RequestOptions): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const sent = request(url, { ...requestOptions, method: 'POST', headers: push.headers }, resolve);
      sent.on('error', reject);
      sent.end(push.body ?? undefined);
    });
  }

  return {
    async send(push: PushRequest): Promise<PushOutcome> {
      const url = new URL(push.endpoint);
      if (url.protocol !== 'https:') return { kind: 'unreachable', reason: 'not an https endpoint' };
      const trusted = internal.has(url.origin);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      // An address literal is connected to without a lookup: checked here.
      if (!trusted && isIP(host) !== 0 && !isPublicAddress(host, isIP(host))) return { kind: 'unreachable', reason: `${host} is not a public address` };
      let answer: IncomingMessage;
      try {
        answer = await post(url, push, { signal: AbortSignal.timeout(options.timeoutMs), agent: trusted ? agents.internal : agents.public });
      } catch (error) {
        if (error instanceof AddressRefused) return { kind: 'unreachable', reason: error.message };
        return { kind: 'retry', status: undefined, retryAfterSeconds: undefined, reason: (error as Error).message };
      }
      const status = answer.statusCode ?? 0;
      const retryAfter = answer.headers['retry-after'];
      await drain(answer);
      if (status >= 200 && status < 300) return { kind: 'sent' };
      if (status === 404 || status === 410) return { kind: 'gone', status };
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: 'refused', status };
      return { kind: 'retry', status, retryAfterSeconds: retryAfterSeconds(retryAfter), reason: `status ${status}` };
    },
  };
}

async function drain(answer: IncomingMessage): Promise<void> {
  let read = 0;
  try {
    for await (const chunk of answer) {
      read += (chunk as Buffer).length;
      if (read > MAX_ANSWER_BYTES) break;
    }
  } catch {
    // The status is what counts; a body cut short changes nothing.
  } finally {
    answer.destroy();
  }
}

/** `Retry-After` as seconds from now: a number of seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterSeconds(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
