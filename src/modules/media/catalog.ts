import type { Database } from '#platform/db/database.ts';
import { errors } from '#http/errors.ts';
import { decodeCursor, toPage, type Page } from '#http/pagination.ts';
import { accessOf, type MediaAccessRules, type MediaGrant } from './access.ts';
import type { MediaFile } from './keys.ts';
import type { LockedMedia, Media, Recording } from './schemas.ts';
import * as store from './store.ts';
import type { MediaRow } from './store.ts';
import type { MediaPurpose, MediaStatus, StoredVariant, VariantName } from './tables.ts';

/** A media item or recording as the media module hands it to others: opaque, shown through `catalog`'s views. */
export type MediaItem = {
  readonly id: string;
  readonly ownerId: string;
  readonly purpose: MediaPurpose;
  readonly kind: 'image' | 'audio' | 'video';
  readonly contentType: string;
  /** Bytes of the upload as it came. */
  readonly size: number;
  readonly fileName: string;
  readonly status: MediaStatus;
  readonly createdAt: Date;
  readonly width: number | null;
  readonly height: number | null;
  readonly durationMs: number | null;
  readonly blurhash: string | null;
  readonly waveform: number[] | null;
  /** The files made from the upload so far. */
  readonly variants: Partial<Record<VariantName, StoredVariant>>;
};

export function itemOf(row: MediaRow): MediaItem {
  return {
    id: row.id,
    ownerId: row.owner_id,
    purpose: row.purpose,
    kind: row.kind,
    contentType: row.content_type,
    size: Number(row.size),
    fileName: row.file_name,
    status: row.status,
    createdAt: row.created_at,
    width: row.width,
    height: row.height,
    durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
    blurhash: row.blurhash,
    waveform: row.waveform,
    variants: row.variants,
  };
}

export type MediaCatalog = ReturnType<typeof createCatalog>;

/**
 * Describing media: the views of an item for its owner, for anyone else and for a locked post, and
 * the reads that answer them.
 */
export function createCatalog(deps: { db: Database; access: MediaAccessRules; /** Prefix of the links handed out. */ publicUrl: string }) {
  const { db, access } = deps;

  /** A signed link to one file of an item, for `viewerId` (absent: anyone); one to the original is its owner's. */
  function link(item: MediaItem, file: MediaFile, viewerId: string | undefined): string {
    const forViewer = file === 'original' ? undefined : viewerId;
    const { exp, sig } = access.sign(item.id, file, forViewer);
    const path = item.purpose === 'recording' ? 'recordings' : 'media';
    const variant = file === 'original' ? '' : `variant=${file}&`;
    const viewer = forViewer === undefined ? '' : `viewer=${encodeURIComponent(forViewer)}&`;
    return `${deps.publicUrl}/v1/${path}/${item.id}/content?${variant}${viewer}exp=${exp}&sig=${sig}`;
  }

  /** What everyone may see of an item, whatever they may read of it. */
  function lockedView(item: MediaItem): LockedMedia {
    return {
      id: item.id,
      kind: item.kind,
      ...(item.width !== null && { width: item.width }),
      ...(item.height !== null && { height: item.height }),
      ...(item.durationMs !== null && { durationMs: item.durationMs }),
      ...(item.blurhash !== null && { blurhash: item.blurhash }),
    };
  }

  /**
   * An item as a reader (`viewerId`; absent: anyone) sees it, with links to `main` (the file `url`
   * leads to) and the thumbnail, where they exist.
   */
  function readableView(item: MediaItem, main: 'original' | 'clean', viewerId: string | undefined): Media {
    const hasMain = main === 'original' ? item.status !== 'failed' : item.variants.clean !== undefined;
    return {
      ...lockedView(item),
      contentType: item.contentType,
      size: item.size,
      status: item.status,
      createdAt: item.createdAt.toISOString(),
      ...(item.waveform !== null && { waveform: item.waveform }),
      ...(hasMain && { url: link(item, main, viewerId) }),
      ...(item.variants.thumbnail !== undefined && { thumbnailUrl: link(item, 'thumbnail', viewerId) }),
    };
  }

  /** The owner's own view: their label for it, and a link to the upload as it came. */
  function ownerView(item: MediaItem): Media {
    return { ...readableView(item, 'original', item.ownerId), fileName: item.fileName };
  }

  function recordingView(item: MediaItem): Recording {
    return {
      id: item.id,
      fileName: item.fileName,
      contentType: item.contentType,
      size: item.size,
      durationMs: item.durationMs,
      waveform: item.waveform,
      createdAt: item.createdAt.toISOString(),
      url: link(item, 'original', item.ownerId),
    };
  }

  /** These media items, by id, in one query (for posts to show with `inPost`). */
  async function mediaById(ids: readonly string[]): Promise<Map<string, MediaItem>> {
    const rows = await store.findMediaByIds(db, [...new Set(ids)]);
    return new Map(rows.map((row) => [row.id, itemOf(row)]));
  }

  return {
    ownerView,
    recordingView,
    mediaById,

    /**
     * An item as a post shows it to a caller the post lends `grant`. A post leads everyone, its
     * author too, to the clean copy (absent until it is made) and the sizes, never to the upload as
     * it came: what a post shows is what its readers get. A caller who may not read it sees no link.
     */
    inPost(item: MediaItem, callerId: string | undefined, grant: MediaGrant): Media | LockedMedia {
      const decided = accessOf(item, callerId, grant);
      return decided === 'owner' || decided === 'viewer' ? readableView(item, 'clean', callerId) : lockedView(item);
    },

    /**
     * Checks that these media may go into a post by `ownerId`: theirs, for posts (not recordings),
     * and not failed (still processing is fine). Refuses with 400 naming the first one that may not;
     * otherwise answers them by id.
     */
    async attachable(ownerId: string, ids: readonly string[]): Promise<Map<string, MediaItem>> {
      const items = await mediaById(ids);
      ids.forEach((id, index) => {
        const item = items.get(id);
        const problem =
          item === undefined || item.ownerId !== ownerId || item.purpose !== 'post'
            ? 'is not one of your media items'
            : item.status === 'failed'
              ? 'could not be processed'
              : undefined;
        if (problem !== undefined) throw errors.invalidRequest(`Media ${id} ${problem}`, [{ path: `/mediaIds/${index}`, message: problem }]);
      });
      return items;
    },

    async get(ownerId: string, id: string): Promise<Media> {
      const row = await store.findOwnMedia(db, ownerId, 'post', id);
      if (row === undefined) throw errors.notFound('media');
      return ownerView(itemOf(row));
    },

    async getRecording(ownerId: string, id: string): Promise<Recording> {
      const row = await store.findOwnMedia(db, ownerId, 'recording', id);
      if (row === undefined) throw errors.notFound('recording');
      return recordingView(itemOf(row));
    },

    async listRecordings(ownerId: string, query: { limit: number; cursor?: string | undefined }): Promise<Page<Recording>> {
      const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 1)[0];
      const rows = await store.listOwnMedia(db, { ownerId, purpose: 'recording', limit: query.limit + 1, beforeId });
      return toPage(rows, query.limit, (row) => [row.id], (row) => recordingView(itemOf(row)));
    },
  };
}
