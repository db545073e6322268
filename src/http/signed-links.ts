import { createHmac, timingSafeEqual } from 'node:crypto';

/** The query a signed link carries: when it stops working (Unix seconds) and its HMAC. */
export type LinkSignature = { exp: number; sig: string };

export type LinkSigner = {
  /** Signs `resource` (e.g. `media/<id>/thumbnail`) so that a link to it works without a bearer token. */
  sign(resource: string, nowMs?: number): LinkSignature;
  /** True when `signature` was made by `sign` for this very resource and has not expired. */
  verify(resource: string, signature: LinkSignature, nowMs?: number): boolean;
};

/**
 * HMAC-SHA256 signed links. Expiry times are rounded up to a whole `ttlSeconds` window, so a link
 * handed out twice within a window is the same URL and browsers can cache its bytes; a link works for
 * between one and two windows. The key is derived from `secret`, so it never signs anything else.
 */
export function createLinkSigner(secret: string, ttlSeconds: number): LinkSigner {
  const key = createHmac('sha256', secret).update('plaza signed links v1').digest();
  const mac = (resource: string, exp: number) =>
    createHmac('sha256', key).update(`${resource}\n${exp}`).digest('base64url');

  return {
    sign(resource, nowMs = Date.now()) {
      const exp = (Math.floor(nowMs / 1000 / ttlSeconds) + 2) * ttlSeconds;
      return { exp, sig: mac(resource, exp) };
    },
    verify(resource, { exp, sig }, nowMs = Date.now()) {
      if (!Number.isSafeInteger(exp) || exp * 1000 <= nowMs) return false;
      const expected = Buffer.from(mac(resource, exp));
      const given = Buffer.from(sig);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
