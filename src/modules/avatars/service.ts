import { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { BlobStore } from '#platform/blobs/types.ts';
import type { ByteContent } from '#http/byte-content.ts';
import { errors } from '#http/errors.ts';
import { newId } from '#db/ids.ts';
import type { Account } from '../accounts/schemas.ts';
import type { AccountsService } from '../accounts/service.ts';
import { AVATAR_FILES, avatarKey } from '../media/keys.ts';
import { MediaProcessingError } from '../media/processing/errors.ts';
import { processAvatar, type AvatarSize } from '../media/processing/image.ts';
import { putUpload, type UploadSource } from '../media/service.ts';
import { sniffStream } from '../media/sniff.ts';

/** The image types a profile picture may be (API.md); HEIC is not among them. */
const AVATAR_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif']);

/** Profile images are public: a presigned link to one may live as long as S3 allows (7 days). */
const DIRECT_LINK_SECONDS = 7 * 86_400;

export type AvatarsService = ReturnType<typeof createAvatarsService>;

/**
 * Profile images. The upload streams to storage, is cut into square sizes there and then dropped;
 * the user points at the new image only once all its sizes exist, and the old one's bytes go.
 */
export function createAvatarsService(deps: {
  accounts: AccountsService;
  blobs: BlobStore;
  maxBytes: number;
  logger: FastifyBaseLogger;
  /** Image answers redirect to the blob store's own links where it has them (S3 presigned URLs). */
  redirectDownloads: boolean;
}) {
  const { accounts, blobs, maxBytes, logger } = deps;
  const directLink = deps.redirectDownloads ? blobs.directLink?.bind(blobs) : undefined;

  async function removeFiles(userId: string, avatarId: string): Promise<void> {
    await Promise.all(
      AVATAR_FILES.map((file) =>
        blobs.delete(avatarKey(userId, avatarId, file)).catch((error: unknown) => {
          logger.warn({ err: error, userId, avatarId }, 'avatars: could not remove bytes; the sweeper will');
        }),
      ),
    );
  }

  async function makeSizes(userId: string, avatarId: string, source: UploadSource): Promise<void> {
    if (source.declaredBytes !== undefined && source.declaredBytes > maxBytes) throw errors.payloadTooLarge(maxBytes);
    const upload = await sniffStream(source.body);
    if (!AVATAR_TYPES.has(upload.contentType)) {
      upload.stream.destroy();
      throw errors.unsupportedMediaType('A profile image must be a JPEG, PNG, WebP, GIF or AVIF image');
    }
    const originalKey = avatarKey(userId, avatarId, 'original');
    await putUpload(blobs, originalKey, upload, maxBytes);
    const original = await blobs.get(originalKey);
    if (original === undefined) throw new Error(`stored avatar ${originalKey} vanished`);
    const sizes = await processAvatar(original.body);
    for (const [size, variant] of Object.entries(sizes)) {
      await blobs.put(avatarKey(userId, avatarId, size as AvatarSize), Readable.from([variant.data]), {
        maxBytes: variant.data.length,
        contentType: variant.contentType,
      });
    }
    await blobs.delete(originalKey);
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
        if (error instanceof MediaProcessingError) throw errors.unsupportedMediaType('The image could not be decoded');
        throw error;
      }
      return accounts.getAccount(userId);
    },

    async remove(userId: string): Promise<void> {
      const { previous } = await accounts.swapAvatar(userId, null);
      if (previous !== null) await removeFiles(userId, previous);
    },

    /** The bytes of a user's profile image in one size; 404 when they have none. */
    async content(handle: string, size: AvatarSize): Promise<ByteContent & { avatarId: string }> {
      const avatar = await accounts.avatarOf(handle);
      if (avatar === undefined) throw errors.notFound('profile image');
      const key = avatarKey(avatar.userId, avatar.avatarId, size);
      const info = await blobs.head(key);
      if (info === undefined) throw errors.notFound('profile image');
      return {
        avatarId: avatar.avatarId,
        contentType: 'image/webp',
        size: info.size,
        etag: `"${avatar.avatarId}.${size}"`,
        fileName: `${handle}-${size}.webp`,
        async open(range) {
          const blob = await blobs.get(key, range);
          if (blob === undefined) throw errors.notFound('profile image');
          return blob.body;
        },
        ...(directLink !== undefined && {
          directLink: (headers) => directLink(key, { ...headers, expiresInSeconds: DIRECT_LINK_SECONDS }),
        }),
      };
    },
  };
}
