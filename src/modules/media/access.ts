import { errors } from '#http/errors.ts';
import type { LinkSignature, LinkSigner } from '#http/signed-links.ts';
import type { MediaFile } from './keys.ts';
import type { MediaPurpose } from './tables.ts';

/**
 * What the posts holding an item lend a caller who does not own it (posts' `mediaGrant`): `read`
 * through a post they may see and read, `purchase_required` through a paid one they have not bought.
 */
export type MediaGrant = 'read' | 'purchase_required' | 'none';

/**
 * How a caller may read an item. Its owner gets the upload as it came; anyone else (a `viewer`) only
 * the files made for others: the clean copy (upright, without EXIF, GPS, camera or creation tags) and
 * the sizes.
 */
export type MediaAccess = 'owner' | 'viewer' | 'purchase_required' | 'none';

/** How a request for bytes identifies itself: a signed link's signature, or else the bearer token's user (if any). */
export type ContentAccess = {
  callerId: string | undefined;
  signature: LinkSignature | undefined;
  /** Whom a signed link to a post's item was made for (absent: anyone, as a public post's links are). */
  signedFor?: string | undefined;
  /** What posts lend a reader (`undefined`: anyone) of an item they do not own; asked only then, and only for posts' media. */
  grantFor?: (readerId: string | undefined, mediaId: string) => Promise<MediaGrant>;
};

/** What access is decided on: whose item it is, and what it is for. */
export type AccessedItem = { id: string; ownerId: string; purpose: MediaPurpose };

/** The one rule for a caller with a known grant (a post being shown to them, or a bearer request). */
export function accessOf(item: AccessedItem, callerId: string | undefined, grant: MediaGrant): MediaAccess {
  if (callerId === item.ownerId) return 'owner';
  return grant === 'read' ? 'viewer' : grant;
}

export type MediaAccessRules = ReturnType<typeof createAccessRules>;

/**
 * The one place that answers "may this caller read these bytes", for media, recordings and the
 * posts that show them (through `accessOf` and the grants posts lend).
 */
export function createAccessRules(signer: LinkSigner) {
  return {
    /**
     * The signature of a link to one file of an item, made for `viewerId` (absent: anyone). A link
     * works for whoever holds it, so one to the original is only put in its owner's own views;
     * everyone else's links lead to the files made for them, and only while the user they were made
     * for may still read the item (see `authorize`).
     */
    sign: (id: string, file: MediaFile, viewerId?: string): LinkSignature => signer.sign(resourceOf(id, file, viewerId)),

    /**
     * Decides a request for `file` of an item, and answers the file to serve. In order:
     * - a signed link must have been made for this very file (else 403): one to the original was made
     *   for the owner, any other for the user it names (or anyone);
     * - without one, a bearer token is needed (401), and the item must exist (404, as for anyone who
     *   may not know of it);
     * - the reader — the link's user, else the token's — who owns the item reads every file;
     * - anyone else only through a grant, asked now and not when the link was made (402 for a paid
     *   post not bought, else 404): an item whose last free post went, or whose author they
     *   unfollowed, is no longer theirs through an old link. They get the clean copy where they ask
     *   for the original: never the upload as it came.
     * `find` is called once the credentials are known to be good: a bad link costs no query.
     */
    async authorize<T extends AccessedItem>(
      request: { id: string; purpose: MediaPurpose; file: MediaFile; access: ContentAccess },
      find: () => Promise<T | undefined>,
    ): Promise<{ item: T; file: MediaFile }> {
      const { id, purpose, file, access } = request;
      const { signature } = access;
      const signed = signature !== undefined;
      if (signed) {
        if (!signer.verify(resourceOf(id, file, access.signedFor), signature)) throw errors.forbidden('This link has expired or is not valid');
      } else if (access.callerId === undefined) {
        throw errors.unauthorized('Use the signed link as handed out (the url of the item), or send Authorization: Bearer <accessToken>');
      }
      const item = await find();
      const what = purpose === 'recording' ? 'recording' : 'media';
      if (item === undefined || item.purpose !== purpose) throw errors.notFound(what);
      // A link to an original, or to a recording, was made for the owner alone.
      if (signed && (file === 'original' || purpose !== 'post')) return { item, file };
      const readerId = signed ? access.signedFor : access.callerId;
      const grant = item.ownerId === readerId || purpose !== 'post' || access.grantFor === undefined ? 'none' : await access.grantFor(readerId, id);
      const decided = accessOf(item, readerId, grant);
      if (decided === 'purchase_required') throw errors.purchaseRequired();
      if (decided === 'none') throw errors.notFound(what);
      return { item, file: decided === 'viewer' && file === 'original' ? 'clean' : file };
    },
  };
}

/**
 * What a signed link is bound to: one file of one item, for one reader. Links to the original name
 * its owner, so that links handed to others before they got clean copies (issue 9) stopped working.
 */
const resourceOf = (id: string, file: MediaFile, viewerId: string | undefined) =>
  file === 'original' ? `media/${id}/original/owner` : viewerId === undefined ? `media/${id}/${file}` : `media/${id}/${file}/for/${viewerId}`;
