import type { BlobStore } from '#platform/blobs/types.ts';
import type { Database } from '#platform/db/database.ts';
import { errors } from '#http/errors.ts';
import type { ByteContent } from '#http/byte-content.ts';
import type { ContentAccess, MediaAccessRules } from './access.ts';
import { itemOf, type MediaItem } from './catalog.ts';
import { mediaKey, type MediaFile } from './keys.ts';
import { extensionOf } from './sniff.ts';
import * as store from './store.ts';
import type { MediaPurpose, StoredVariant } from './tables.ts';

/** The bytes of one media file, ready to serve: `open` reads all of them or a range. */
export type MediaContent = ByteContent;

/** Serving bytes: the file a caller may read, as `sendByteContent` answers with it. */
export function createServing(deps: {
  db: Database;
  blobs: BlobStore;
  access: MediaAccessRules;
  /** Content answers redirect to the blob store's own links where it has them (S3 presigned URLs). */
  redirectDownloads: boolean;
  signedUrlTtlSeconds: number;
}) {
  const { db, blobs, access } = deps;
  const directLink = deps.redirectDownloads ? blobs.directLink?.bind(blobs) : undefined;

  return {
    /**
     * The bytes of a media item or recording that the caller may read (see `MediaAccessRules.authorize`):
     * the upload as it came for its owner, the clean copy for anyone else asking for the original.
     */
    async content(purpose: MediaPurpose, id: string, requested: MediaFile, caller: ContentAccess): Promise<MediaContent> {
      const { item, file } = await access.authorize({ id, purpose, file: requested, access: caller }, async () => {
        const row = await store.findMedia(db, id);
        return row === undefined ? undefined : itemOf(row);
      });
      const what = purpose === 'recording' ? 'recording' : 'media';
      const stored = fileOf(item, file);
      if (stored === undefined) throw errors.notFound(`${file === 'clean' ? 'copy without metadata' : file} of this ${what}`);
      const key = mediaKey(item.ownerId, item.id, file);
      return {
        ...stored,
        etag: `"${item.id}.${file}"`,
        fileName: downloadName(item, file),
        async open(range) {
          const blob = await blobs.get(key, range);
          if (blob === undefined) throw errors.notFound(what);
          return blob.body;
        },
        ...(directLink !== undefined && {
          directLink: (headers) => directLink(key, { ...headers, expiresInSeconds: deps.signedUrlTtlSeconds }),
        }),
      };
    },
  };
}

function fileOf(item: MediaItem, file: MediaFile): StoredVariant | undefined {
  if (file === 'original') return { contentType: item.contentType, size: item.size };
  return item.variants[file];
}

/** The owner's own label goes only with the upload as it came, which only they get; others get a neutral name. */
function downloadName(item: MediaItem, file: MediaFile): string {
  if (file === 'original') return item.fileName;
  if (file === 'clean') return `${item.id}.${extensionOf(item.contentType)}`;
  return `${file}.webp`;
}
