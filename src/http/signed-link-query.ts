import Type from 'typebox';
import { errors } from './errors.ts';
import type { LinkSignature } from './signed-links.ts';

/** What a signed link adds to a content URL. */
export const SignedLinkQuery = {
  exp: Type.Optional(Type.Integer({ minimum: 0, description: 'Signed link: expiry, Unix seconds' })),
  sig: Type.Optional(Type.String({ maxLength: 128, description: 'Signed link: signature' })),
};

type SignedQuery = { exp?: number | undefined; sig?: string | undefined };

/** The signature a content URL carries, if any. It needs both halves: one without the other is a broken link (403), not an anonymous request. */
export function signatureOf(query: SignedQuery): LinkSignature | undefined {
  if (query.exp === undefined && query.sig === undefined) return undefined;
  if (query.exp === undefined || query.sig === undefined) throw errors.forbidden('This link has expired or is not valid');
  return { exp: query.exp, sig: query.sig };
}

/** Bytes never change under a URL; a signed one may be cached until it expires. */
export function privateCache(query: { exp?: number | undefined }): string {
  if (query.exp === undefined) return 'private, no-cache';
  const seconds = Math.max(0, query.exp - Math.floor(Date.now() / 1000));
  return `private, max-age=${seconds}, immutable`;
}
