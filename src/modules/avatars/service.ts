import { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { BlobStore } from '#platform/blobs/types.ts';
import type { ByteContent } from '#http/byte-content.ts';
import { errors } from '#http/errors.ts';
import { newId } from '#db/ids.ts';
import type { Account } from '../accounts/schemas.ts';
import type { AccountsService } from '../accounts/service.ts';
import type { MediaService, UploadSource } from '../media/service.ts';
import { AVATAR_SIDES, AVATAR_SIZES, avatarKey, type AvatarSize } from './keys.ts';

/** The image types a profile picture may be (API.md); HEIC is not among them. */
const AVATAR_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif']);

/**
 * Larger images are refused (413) from their header: cutting a 100-megapixel PNG takes seconds of
 * CPU inside the request. 50 megapixels still takes the photos of 48- and 50-megapixel phone cameras.
 */
export const AVATAR_MAX_PIXELS = 50_000_000;

/** Profile images are public: a presigned link to one may live as long as S3 allows (7 days). */
const DIRECT_LINK_SECONDS = 7 * 86_400;

export type AvatarsService = ReturnType<typeof createAvatarsService>;

/**
 * Profile images. Media cuts the upload into square sizes (bounded in pixels and in how many at once);
 * the user points at the new image only once all its sizes are stored, and the old one's bytes go.
 */
export function createAvatarsService(deps: {
  accounts: Pick<AccountsService, 'swapAvatar' | 'getAccount' | 'avatarOf' | 'avatarOwner'>;
  media: Pick<MediaService, 'squareImages'>;
  blobs: BlobStore;
  maxBytes: number;
  logger: FastifyBaseLogger;
  /** Image answers redirect to the blob store's own links where it has them (S3 presigned URLs). */
  redirectDownloads: boolean;
}) {
  const { accounts, media, blobs, maxBytes, logger } = deps;
  const directLink = deps.redirectDownloads ? blobs.directLink?.bind(blobs) : undefined;

  async function removeFiles(userId: string, avatarId: string): Promise<void> {
    await Promise.all(
      AVATAR_SIZES.map((size) =>
        blobs.delete(avatarKey(userId, avatarId, size)).catch((error: unknown) => {
          logger.warn({ err: error, userId, avatarId }, 'avatars: could not remove bytes; the sweeper will');
        }),
      ),
    );
  }

  async function makeSizes(userId: string, avatarId: string, source: UploadSource): Promise<void> {
    const sizes = await media.squareImages(source, {
      stagingKey: avatarKey(userId, avatarId, 'staged'),
      maxBytes,
      maxPixels: AVATAR_MAX_PIXELS,
      accepts: (contentType) => AVATAR_TYPES.has(contentType),
      refusal: 'A profile image must be a JPEG, PNG, WebP, GIF or AVIF image',
      sides: AVATAR_SIDES,
    });
    for (const size of AVATAR_SIZES) {
      const variant = sizes[size];
      await blobs.put(avatarKey(userId, avatarId, size), Readable.from([variant.data]), {
        maxBytes: variant.data.length,
        contentType: variant.contentType,
      });
    }
  }

  async function imageContent(userId: string, avatarId: string, size: AvatarSize, fileName: string): Promise<ByteContent> {
    const key = avatarKey(userId, avatarId, size);
    const info = await blobs.head(key);
    if (info === undefined) throw errors.notFound('profile image');
    return {
      contentType: 'image/webp',
      size: info.size,
      etag: `"${avatarId}.${size}"`,
      fileName,
      async open(range) {
        const blob = await blobs.get(key, range);
        if (blob === undefined) throw errors.notFound('profile image');
        return blob.body;
      },
      ...(directLink !== undefined && {
        directLink: (headers) => directLink(key, { ...headers, expiresInSeconds: DIRECT_LINK_SECONDS }),
      }),
    };
  }

  /**
   * One size of the image with this id while it is someone's current profile image; 404 once it is
   * replaced or removed, or its account deleted, so a link never shows an image its owner took down.
   */
  async function image(avatarId: string, size: AvatarSize): Promise<ByteContent> {
    const owner = await accounts.avatarOwner(avatarId);
    if (owner === undefined) throw errors.notFound('profile image');
    // Named without the handle: an old link must not tell who its owner has become.
    return imageContent(owner.userId, avatarId, size, `avatar-${size}.webp`);
  }

  return {
    async set(userId: string, source: UploadSource): Promise<Account> {
      const avatarId = newId();
      try {
        await makeSizes(userId, avatarId, source);
        const { previous } = await accounts.swapAvatar(userId, avatarId);
        if (previous !== null) await removeFiles(userId, previous);
      } catch (error) {
        await removeFiles(userId, avatarId);
        throw error;
      }
      return accounts.getAccount(userId);
    },

    async remove(userId: string): Promise<void> {
      const { previous } = await accounts.swapAvatar(userId, null);
      if (previous !== null) await removeFiles(userId, previous);
    },

    /**
     * What `/v1/users/{handle}/avatar` serves: the handle's current image, or with `v` the image that
     * names (links handed out before `avatarUrl` was keyed by the image id), whatever handle they carry,
     * so a rename keeps them working. `immutable`: the bytes behind the link never change.
     */
    async viaHandle(handle: string, size: AvatarSize, v: string | undefined): Promise<{ content: ByteContent; immutable: boolean }> {
      if (v !== undefined) return { content: await image(v, size), immutable: true };
      const avatar = await accounts.avatarOf(handle);
      if (avatar === undefined) throw errors.notFound('profile image');
      // The handle as stored, not as the client spelled it (`%E2%84%AA` is a Kelvin sign that finds `k…`).
      return { content: await imageContent(avatar.userId, avatar.avatarId, size, `${avatar.handle}-${size}.webp`), immutable: false };
    },

    image,
  };
}
