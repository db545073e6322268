import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { MediaConfig } from '../../config.ts';
import type { BlobStore } from '#platform/blobs/types.ts';
import { BlobTooLargeError } from '#platform/blobs/errors.ts';
import { enqueueAfterCommit } from '#platform/queue/after-commit.ts';
import type { JobQueue } from '#platform/queue/types.ts';
import type { Database } from '#platform/db/database.ts';
import { AppError, errors } from '#http/errors.ts';
import { decodeCursor, toPage, type Page } from '#http/pagination.ts';
import type { ByteContent } from '#http/byte-content.ts';
import type { LinkSignature, LinkSigner } from '#http/signed-links.ts';
import { newId } from '#db/ids.ts';
import { describeMedia, storedBytes } from './describe.ts';
import { MEDIA_FILES, mediaKey, type MediaFile } from './keys.ts';
import type { FfmpegTools } from './processing/ffmpeg.ts';
import { MediaProcessingError } from './processing/errors.ts';
import type { LockedMedia, Media, Recording } from './schemas.ts';
import { safeFileName, sniffFile, sniffStream, type MediaKind, type MediaType, type SniffedUpload } from './sniff.ts';
import * as store from './store.ts';
import type { MediaRow } from './store.ts';
import type { MediaPurpose, StoredVariant } from './tables.ts';

export const PROCESS_MEDIA_JOB = 'media.process';
export const PROCESS_MEDIA_ATTEMPTS = 3;
export const PURGE_OWNER_MEDIA_JOB = 'media.purge-owner';

export type MediaDeps = {
  db: Database;
  blobs: BlobStore;
  queue: JobQueue;
  signer: LinkSigner;
  config: MediaConfig;
  /** Prefix of the links handed out; '' for links relative to the API. */
  publicUrl: string;
  ffmpeg: FfmpegTools | undefined;
  logger: FastifyBaseLogger;
  /** Content answers redirect to the blob store's own links where it has them (S3 presigned URLs). */
  redirectDownloads: boolean;
};

/** An upload as the routes hand it over: its bytes, unread, and what the client said about them. */
export type UploadSource = {
  body: Readable;
  fileName: string | undefined;
  /** The Content-Length (or tus Upload-Length), when the client sent one: refused early if too large. */
  declaredBytes: number | undefined;
};

/** Who asks for bytes: a signed link's signature, or else the bearer token's user (if any). */
/** What lets a caller read an item they do not own (posts holding it): see `content`. */
export type MediaGrant = 'read' | 'purchase_required' | 'none';

export type ContentAccess = {
  callerId: string | undefined;
  signature: LinkSignature | undefined;
  /** Whether the caller, not the item's owner, may read a post's media item. */
  grantFor?: (mediaId: string) => Promise<MediaGrant>;
};

/** The bytes of one media file, ready to serve: `open` reads all of them or a range. */
export type MediaContent = ByteContent;

export type MediaService = ReturnType<typeof createMediaService>;

export function createMediaService(deps: MediaDeps) {
  const { db, blobs, queue, signer, config, logger } = deps;
  const directLink = deps.redirectDownloads ? blobs.directLink?.bind(blobs) : undefined;

  /** The owner's storage left; 413 when an upload of `declaredBytes` could not fit whatever its kind. */
  async function roomFor(ownerId: string, declaredBytes: number | undefined): Promise<number> {
    const remaining = config.quotaBytes - (await store.storageUsed(db, ownerId));
    if (remaining <= 0 || (declaredBytes ?? 0) > remaining) throw quotaExceeded(config.quotaBytes);
    refuseIfDeclaredTooLarge(declaredBytes, largestLimit(config));
    return remaining;
  }

  /** Streams an upload into storage under a new id, within the kind's size limit and the owner's quota. */
  async function storeOriginal(
    ownerId: string,
    source: UploadSource,
    accepts: (kind: MediaKind, contentType: string) => boolean,
  ) {
    const remaining = await roomFor(ownerId, source.declaredBytes);
    const upload = await sniffStream(source.body);
    if (!accepts(upload.kind, upload.contentType)) {
      upload.stream.destroy();
      throw errors.unsupportedMediaType(`A ${upload.kind} file is not accepted here`);
    }
    const maxBytes = Math.min(config.maxBytes[upload.kind], remaining);
    refuseIfDeclaredTooLarge(source.declaredBytes, maxBytes, upload);
    const now = new Date();
    const id = newId(now.getTime());
    const key = mediaKey(ownerId, id, 'original');
    const { size } = await putUpload(blobs, key, upload, maxBytes);
    return { id, key, size, upload, createdAt: now };
  }

  /**
   * Writes the row for stored bytes, checking the quota again under a lock on the owner (two uploads
   * racing may both have passed the first check). Anything refused here takes its bytes with it.
   */
  async function insertUploaded(
    row: Parameters<typeof store.insertMedia>[1],
    key: string,
    enqueue: boolean,
  ): Promise<MediaRow> {
    try {
      return await enqueueAfterCommit(queue, (jobs) =>
        db.transaction().execute(async (trx) => {
          if (!(await store.lockOwner(trx, row.owner_id))) throw errors.unauthorized('The account no longer exists');
          const used = await store.storageUsed(trx, row.owner_id);
          if (used + Number(row.size) > config.quotaBytes) throw quotaExceeded(config.quotaBytes);
          const inserted = await store.insertMedia(trx, row);
          if (enqueue) jobs.add(PROCESS_MEDIA_JOB, { mediaId: row.id }, { attempts: PROCESS_MEDIA_ATTEMPTS, jobId: row.id });
          return inserted;
        }),
      );
    } catch (error) {
      await blobs.delete(key).catch((cause: unknown) => logger.warn({ err: cause, key }, 'media: could not remove refused upload'));
      throw error;
    }
  }

  function link(row: MediaRow, file: MediaFile): string {
    const { exp, sig } = signer.sign(resourceOf(row.id, file));
    const path = row.purpose === 'recording' ? 'recordings' : 'media';
    const variant = file === 'original' ? '' : `variant=${file}&`;
    return `${deps.publicUrl}/v1/${path}/${row.id}/content?${variant}exp=${exp}&sig=${sig}`;
  }

  /** Someone else's item, read with a bearer token: allowed through a post they may read. */
  async function assertGranted(row: MediaRow, access: ContentAccess): Promise<void> {
    const grant = row.purpose === 'post' && access.grantFor !== undefined ? await access.grantFor(row.id) : 'none';
    if (grant === 'purchase_required') throw errors.purchaseRequired();
    if (grant === 'none') throw errors.notFound(row.purpose === 'recording' ? 'recording' : 'media');
  }

  function toMedia(row: MediaRow): Media {
    const hasThumbnail = row.variants.thumbnail !== undefined;
    return {
      id: row.id,
      kind: row.kind,
      contentType: row.content_type,
      size: Number(row.size),
      fileName: row.file_name,
      status: row.status,
      createdAt: row.created_at.toISOString(),
      ...(row.width !== null && { width: row.width }),
      ...(row.height !== null && { height: row.height }),
      ...(row.duration_ms !== null && { durationMs: Number(row.duration_ms) }),
      ...(row.blurhash !== null && { blurhash: row.blurhash }),
      ...(row.waveform !== null && { waveform: row.waveform }),
      ...(row.status !== 'failed' && { url: link(row, 'original') }),
      ...(hasThumbnail && { thumbnailUrl: link(row, 'thumbnail') }),
    };
  }

  function toRecording(row: MediaRow): Recording {
    return {
      id: row.id,
      fileName: row.file_name,
      contentType: row.content_type,
      size: Number(row.size),
      durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
      waveform: row.waveform,
      createdAt: row.created_at.toISOString(),
      url: link(row, 'original'),
    };
  }

  async function removeBytes(row: MediaRow): Promise<void> {
    const files = MEDIA_FILES.filter((file) => file === 'original' || row.variants[file] !== undefined);
    await Promise.all(
      files.map((file) =>
        blobs.delete(mediaKey(row.owner_id, row.id, file)).catch((error: unknown) => {
          // The sweeper removes what is left once no row points to it.
          logger.warn({ err: error, mediaId: row.id, file }, 'media: could not remove bytes');
        }),
      ),
    );
  }

  return {
    toMedia,

    /**
     * Checks that these media may go into a post by `ownerId`: theirs, for posts (not recordings),
     * and not failed (still processing is fine). Refuses with 400 naming the first one that may not;
     * otherwise answers them by id.
     */
    async attachable(ownerId: string, ids: readonly string[]): Promise<Map<string, MediaRow>> {
      const rows = new Map((await store.findMediaByIds(db, ids)).map((row) => [row.id, row]));
      ids.forEach((id, index) => {
        const row = rows.get(id);
        const problem =
          row === undefined || row.owner_id !== ownerId || row.purpose !== 'post'
            ? 'is not one of your media items'
            : row.status === 'failed'
              ? 'could not be processed'
              : undefined;
        if (problem !== undefined) throw errors.invalidRequest(`Media ${id} ${problem}`, [{ path: `/mediaIds/${index}`, message: problem }]);
      });
      return rows;
    },

    /** These media items as posts show them, by id, in one query. */
    async mediaById(ids: readonly string[]): Promise<Map<string, MediaRow>> {
      const rows = await store.findMediaByIds(db, [...new Set(ids)]);
      return new Map(rows.map((row) => [row.id, row]));
    },

    /** What a caller who may not read a locked post's media sees of it: no link to the bytes. */
    lockedView(row: MediaRow): LockedMedia {
      return {
        id: row.id,
        kind: row.kind,
        ...(row.width !== null && { width: row.width }),
        ...(row.height !== null && { height: row.height }),
        ...(row.duration_ms !== null && { durationMs: Number(row.duration_ms) }),
        ...(row.blurhash !== null && { blurhash: row.blurhash }),
      };
    },

    /** Refuses (413) an upload of this many bytes before it is sent, if it could not be kept. */
    async assertRoomFor(ownerId: string, bytes: number): Promise<void> {
      await roomFor(ownerId, bytes);
    },

    /** Removes, in the background, every byte an account stored; call once the account is deleted. */
    async forgetOwner(ownerId: string): Promise<void> {
      await queue.enqueue(PURGE_OWNER_MEDIA_JOB, { ownerId });
    },

    /** A media item for posts: stored now, processed in the background (`status: processing`). */
    async upload(ownerId: string, source: UploadSource): Promise<Media> {
      const stored = await storeOriginal(ownerId, source, () => true);
      const row = await insertUploaded(newRow(ownerId, 'post', source.fileName, stored), stored.key, true);
      return toMedia(row);
    },

    /**
     * A media item from a finished file on this machine (a completed resumable upload), with the
     * checks of `upload`. Where the blob store can take the file as it is (the local store links it),
     * no byte is copied; otherwise it is streamed like any upload. The file itself is left in place.
     */
    async uploadFile(ownerId: string, file: { path: string; fileName: string | undefined }): Promise<Media> {
      const { size } = await stat(file.path);
      if (blobs.putLocalFile === undefined) {
        return this.upload(ownerId, { body: createReadStream(file.path), fileName: file.fileName, declaredBytes: size });
      }
      const remaining = await roomFor(ownerId, size);
      const type = await sniffFile(file.path);
      const maxBytes = Math.min(config.maxBytes[type.kind], remaining);
      refuseIfDeclaredTooLarge(size, maxBytes);
      const createdAt = new Date();
      const id = newId(createdAt.getTime());
      const key = mediaKey(ownerId, id, 'original');
      try {
        await blobs.putLocalFile(key, file.path, { maxBytes, contentType: type.contentType });
      } catch (error) {
        if (error instanceof BlobTooLargeError) throw errors.payloadTooLarge(maxBytes);
        throw error;
      }
      const row = await insertUploaded(newRow(ownerId, 'post', file.fileName, { id, size, upload: type, createdAt }), key, true);
      return toMedia(row);
    },

    /**
     * A recording: audio only, and measured before the answer, so the recorder's list shows its
     * duration and waveform at once. Audio that cannot be decoded is refused and not kept. An MP4
     * whose head shows no tracks is taken on trial: it is kept only if it turns out to be sound alone.
     */
    async record(ownerId: string, source: UploadSource): Promise<Recording> {
      const stored = await storeOriginal(ownerId, source, (kind, contentType) => kind === 'audio' || contentType === 'video/mp4');
      let description;
      try {
        const { kind, contentType } = stored.upload;
        description = await describeMedia(kind, contentType, storedBytes(blobs, stored.key), deps.ffmpeg);
        if ((description.retyped?.kind ?? kind) !== 'audio') throw errors.unsupportedMediaType('A video file is not accepted here');
      } catch (error) {
        await blobs.delete(stored.key).catch(() => {});
        if (!(error instanceof MediaProcessingError)) throw error;
        logger.info({ err: error, ownerId }, 'media: refused a recording that could not be decoded');
        throw errors.unsupportedMediaType('The recording is not decodable audio');
      }
      const { fields, retyped } = description;
      const row = await insertUploaded(
        {
          ...newRow(ownerId, 'recording', source.fileName, stored),
          ...(retyped !== undefined && { kind: retyped.kind, content_type: retyped.contentType }),
          status: 'ready',
          duration_ms: fields.durationMs ?? null,
          waveform: fields.waveform === undefined ? null : JSON.stringify(fields.waveform),
        },
        stored.key,
        false,
      );
      return toRecording(row);
    },

    async get(ownerId: string, id: string): Promise<Media> {
      const row = await store.findOwnMedia(db, ownerId, 'post', id);
      if (row === undefined) throw errors.notFound('media');
      return toMedia(row);
    },

    async getRecording(ownerId: string, id: string): Promise<Recording> {
      const row = await store.findOwnMedia(db, ownerId, 'recording', id);
      if (row === undefined) throw errors.notFound('recording');
      return toRecording(row);
    },

    async listRecordings(ownerId: string, query: { limit: number; cursor?: string | undefined }): Promise<Page<Recording>> {
      const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 1)[0];
      const rows = await store.listOwnMedia(db, { ownerId, purpose: 'recording', limit: query.limit + 1, beforeId });
      return toPage(rows, query.limit, (row) => [row.id], toRecording);
    },

    /**
     * The bytes of a media item or recording, for a valid signed link or for its owner. A bad or
     * expired link is 403; for anyone else the item does not exist.
     */
    async content(purpose: MediaPurpose, id: string, file: MediaFile, access: ContentAccess): Promise<MediaContent> {
      const resource = resourceOf(id, file);
      if (access.signature !== undefined) {
        if (!signer.verify(resource, access.signature)) throw errors.forbidden('This link has expired or is not valid');
      } else if (access.callerId === undefined) {
        throw errors.unauthorized();
      }
      const row = await store.findMedia(db, id);
      const what = purpose === 'recording' ? 'recording' : 'media';
      if (row === undefined || row.purpose !== purpose) throw errors.notFound(what);
      if (access.signature === undefined && row.owner_id !== access.callerId) await assertGranted(row, access);
      const stored = fileOf(row, file);
      if (stored === undefined) throw errors.notFound(`${file} of this ${what}`);
      const key = mediaKey(row.owner_id, row.id, file);
      return {
        ...stored,
        etag: `"${row.id}.${file}"`,
        fileName: file === 'original' ? row.file_name : `${file}.webp`,
        async open(range) {
          const blob = await blobs.get(key, range);
          if (blob === undefined) throw errors.notFound(what);
          return blob.body;
        },
        ...(directLink !== undefined && {
          directLink: (headers) => directLink(key, { ...headers, expiresInSeconds: config.signedUrlTtlSeconds }),
        }),
      };
    },

    /** Deletes an owner's item and every file made from it. */
    async remove(ownerId: string, purpose: MediaPurpose, id: string): Promise<void> {
      const row = await store.deleteOwnMedia(db, ownerId, purpose, id);
      if (row === undefined) throw errors.notFound(purpose === 'recording' ? 'recording' : 'media');
      await removeBytes(row);
    },
  };
}

function newRow(
  ownerId: string,
  purpose: MediaPurpose,
  fileName: string | undefined,
  stored: { id: string; size: number; upload: MediaType; createdAt: Date },
) {
  return {
    id: stored.id,
    owner_id: ownerId,
    purpose,
    kind: stored.upload.kind,
    content_type: stored.upload.contentType,
    size: stored.size,
    file_name: safeFileName(fileName ?? '', `${purpose === 'recording' ? 'recording' : 'upload'}.${stored.upload.extension}`),
    status: 'processing' as const,
    created_at: stored.createdAt,
    updated_at: stored.createdAt,
  };
}

function fileOf(row: MediaRow, file: MediaFile): StoredVariant | undefined {
  if (file === 'original') return { contentType: row.content_type, size: Number(row.size) };
  return row.variants[file];
}

/** What a signed link is bound to: one file of one item. */
const resourceOf = (id: string, file: MediaFile) => `media/${id}/${file}`;

const largestLimit = (config: MediaConfig) => Math.max(config.maxBytes.image, config.maxBytes.audio, config.maxBytes.video);

function refuseIfDeclaredTooLarge(declared: number | undefined, maxBytes: number, upload?: SniffedUpload): void {
  if (declared === undefined || declared <= maxBytes) return;
  upload?.stream.destroy();
  throw errors.payloadTooLarge(maxBytes);
}

/** Streams a sniffed upload to `key`; more than `maxBytes` is a 413. Nothing is left under `key` on failure. */
export async function putUpload(blobs: BlobStore, key: string, upload: SniffedUpload, maxBytes: number): Promise<{ size: number }> {
  try {
    return await blobs.put(key, upload.stream, { maxBytes, contentType: upload.contentType });
  } catch (error) {
    if (error instanceof BlobTooLargeError) throw errors.payloadTooLarge(maxBytes);
    throw error;
  }
}

function quotaExceeded(quotaBytes: number): AppError {
  return new AppError(413, 'payload_too_large', `This upload would take your storage past its quota of ${quotaBytes} bytes`);
}
