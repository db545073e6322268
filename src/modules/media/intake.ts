import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { MediaConfig } from '../../config.ts';
import type { BlobStore } from '#platform/blobs/types.ts';
import { BlobTooLargeError } from '#platform/blobs/errors.ts';
import type { Database } from '#platform/db/database.ts';
import type { EmitEvent, Outbox } from '#platform/outbox/types.ts';
import type { TaskSlots } from '#platform/slots.ts';
import { AppError, errors } from '#http/errors.ts';
import { newId } from '#db/ids.ts';
import type { AccountsService } from '../accounts/service.ts';
import { itemOf, type MediaItem } from './catalog.ts';
import { describeMedia, storedBytes } from './describe.ts';
import { uploadedEvent } from './events.ts';
import { mediaKey } from './keys.ts';
import { MediaProcessingError, TooManyPixelsError } from './processing/errors.ts';
import type { FfmpegTools } from './processing/ffmpeg.ts';
import { squareImages, type ImageVariant } from './processing/image.ts';
import { safeFileName, sniffFile, sniffStream, type MediaKind, type MediaType, type SniffedUpload } from './sniff.ts';
import * as store from './store.ts';
import type { MediaPurpose } from './tables.ts';

export const PROCESS_MEDIA_JOB = 'media.process';
export const PROCESS_MEDIA_ATTEMPTS = 3;
/** At start-up: enqueues again the processing of items still `processing` (see outbox.ts). */
export const PROCESSING_BACKLOG_JOB = 'media.processing-backlog';

/** Each kind as a message names it, article included. */
const A_KIND: Record<MediaKind, string> = { image: 'An image', audio: 'An audio file', video: 'A video' };

/** An upload as the routes hand it over: its bytes, unread, and what the client said about them. */
export type UploadSource = {
  body: Readable;
  fileName: string | undefined;
  /** The Content-Length (or tus Upload-Length), when the client sent one: refused early if too large. */
  declaredBytes: number | undefined;
};

/** A square copy of an image, made by `squareImages`. */
export type SquareImage = ImageVariant;

export type IntakeDeps = {
  db: Database;
  blobs: BlobStore;
  outbox: Pick<Outbox, 'transaction'>;
  /** The users' rows are accounts': it locks one for the quota check inside our transaction. */
  accounts: Pick<AccountsService, 'lockUser'>;
  config: MediaConfig;
  ffmpeg: FfmpegTools | undefined;
  logger: FastifyBaseLogger;
  /** Bounds the square images cut inside requests (profile images). */
  squareImageSlots: TaskSlots;
};

export type MediaIntake = ReturnType<typeof createIntake>;

/** Taking uploads in: type, size limits and quota, storage, the row, and the processing event. */
export function createIntake(deps: IntakeDeps) {
  const { db, blobs, outbox, accounts, config, logger } = deps;

  /**
   * The owner's storage left beside their media and unfinished resumable uploads; 413 when an upload
   * of `declaredBytes` could not fit whatever its kind.
   */
  async function roomFor(ownerId: string, declaredBytes: number | undefined): Promise<number> {
    const remaining = config.quotaBytes - (await store.quotaTaken(db, ownerId));
    if (remaining <= 0 || (declaredBytes ?? 0) > remaining) throw quotaExceeded(config.quotaBytes);
    refuseIfDeclaredTooLarge(declaredBytes, largestLimit(config));
    return remaining;
  }

  /**
   * Streams an upload into storage under a new id, within the kind's size limit and the owner's quota.
   * `refusal` says why sniffed bytes of a kind or type are not taken, or nothing when they are.
   */
  async function storeOriginal(
    ownerId: string,
    source: UploadSource,
    refusal: (kind: MediaKind, contentType: string) => string | undefined,
  ) {
    const remaining = await roomFor(ownerId, source.declaredBytes);
    const upload = await sniffStream(source.body);
    const refused = refusal(upload.kind, upload.contentType);
    if (refused !== undefined) {
      upload.stream.destroy();
      throw errors.unsupportedMediaType(refused);
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
  async function insertUploaded(row: Parameters<typeof store.insertMedia>[1], key: string, process: boolean): Promise<MediaItem> {
    try {
      return await outbox.transaction(db, async (trx, emit: EmitEvent) => {
        if (!(await accounts.lockUser(trx, row.owner_id))) throw errors.invalidAccessToken('The account no longer exists');
        const taken = await store.quotaTaken(trx, row.owner_id);
        if (taken + Number(row.size) > config.quotaBytes) throw quotaExceeded(config.quotaBytes);
        const inserted = await store.insertMedia(trx, row);
        if (process) await emit(uploadedEvent({ mediaId: row.id }));
        return itemOf(inserted);
      });
    } catch (error) {
      await removeStored(key);
      throw error;
    }
  }

  /** Bytes refused or no longer needed; the sweeper removes them if this fails. */
  async function removeStored(key: string): Promise<void> {
    await blobs.delete(key).catch((cause: unknown) => logger.warn({ err: cause, key }, 'media: could not remove stored bytes'));
  }

  /** A media item for posts: stored now, processed in the background (`status: processing`). */
  async function upload(ownerId: string, source: UploadSource): Promise<MediaItem> {
    const stored = await storeOriginal(ownerId, source, () => undefined);
    return insertUploaded(newRow(ownerId, 'post', source.fileName, stored), stored.key, true);
  }

  return {
    upload,

    /** Refuses (413) an upload of this many bytes before it is sent, if it could not be kept. */
    async assertRoomFor(ownerId: string, bytes: number): Promise<void> {
      await roomFor(ownerId, bytes);
    },

    /**
     * A media item from a finished file on this machine (a completed resumable upload), with the
     * checks of `upload`. Where the blob store can take the file as it is (the local store links it),
     * no byte is copied; otherwise it is streamed like any upload. The file itself is left in place.
     */
    async uploadFile(ownerId: string, file: { path: string; fileName: string | undefined }): Promise<MediaItem> {
      const { size } = await stat(file.path);
      if (blobs.putLocalFile === undefined) {
        return upload(ownerId, { body: createReadStream(file.path), fileName: file.fileName, declaredBytes: size });
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
      return insertUploaded(newRow(ownerId, 'post', file.fileName, { id, size, upload: type, createdAt }), key, true);
    },

    /**
     * A recording: audio only, and measured before the answer, so the recorder's list shows its
     * duration and waveform at once. Audio that cannot be decoded is refused and not kept. An MP4
     * whose head shows no tracks is taken on trial: it is kept only if it turns out to be sound alone.
     * Recordings are their owner's alone, so they get no clean copy.
     */
    async record(ownerId: string, source: UploadSource): Promise<MediaItem> {
      const stored = await storeOriginal(ownerId, source, (kind, contentType) =>
        kind === 'audio' || contentType === 'video/mp4' ? undefined : `${A_KIND[kind]} (${contentType}) is not accepted here: a recording must be audio`,
      );
      let description;
      try {
        const { kind, contentType } = stored.upload;
        description = await describeMedia(kind, contentType, storedBytes(blobs, stored.key), deps.ffmpeg);
        if ((description.retyped?.kind ?? kind) !== 'audio') throw errors.unsupportedMediaType('A video is not accepted here: a recording must be audio only');
      } catch (error) {
        await removeStored(stored.key);
        if (!(error instanceof MediaProcessingError)) throw error;
        logger.info({ err: error, ownerId }, 'media: refused a recording that could not be decoded');
        throw errors.unsupportedMediaType('The recording is not decodable audio');
      }
      const { fields, retyped } = description;
      return insertUploaded(
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
    },

    /**
     * Square, upright, metadata-free WebP copies of an uploaded image, one per side in `sides` (for
     * profile images, which the avatars module stores). The upload is refused unless `accepts` its
     * sniffed type (415), or when it has more than `maxBytes` (413) or `maxPixels` (413, told from its
     * header before any pixel is decoded). It streams to `stagingKey` first, so a slow client holds no
     * processing slot, and is removed from there when done. At most a few are cut at once in this
     * process; the others wait their turn.
     */
    async squareImages<S extends string>(
      source: UploadSource,
      options: { stagingKey: string; maxBytes: number; maxPixels: number; accepts: (contentType: string) => boolean; refusal: string; sides: Record<S, number> },
    ): Promise<Record<S, SquareImage>> {
      refuseIfDeclaredTooLarge(source.declaredBytes, options.maxBytes);
      const upload = await sniffStream(source.body);
      if (!options.accepts(upload.contentType)) {
        upload.stream.destroy();
        throw errors.unsupportedMediaType(options.refusal);
      }
      try {
        await putUpload(blobs, options.stagingKey, upload, options.maxBytes);
        return await deps.squareImageSlots.run(async () => {
          const staged = await storedBytes(blobs, options.stagingKey)();
          return await squareImages(staged, { sides: options.sides, maxPixels: options.maxPixels });
        });
      } catch (error) {
        if (error instanceof TooManyPixelsError) throw new AppError(413, 'payload_too_large', `The image has more than ${error.maxPixels} pixels`);
        if (error instanceof MediaProcessingError) throw errors.unsupportedMediaType('The image could not be decoded');
        throw error;
      } finally {
        await removeStored(options.stagingKey);
      }
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

const largestLimit = (config: MediaConfig) => Math.max(config.maxBytes.image, config.maxBytes.audio, config.maxBytes.video);

function refuseIfDeclaredTooLarge(declared: number | undefined, maxBytes: number, upload?: SniffedUpload): void {
  if (declared === undefined || declared <= maxBytes) return;
  upload?.stream.destroy();
  throw errors.payloadTooLarge(maxBytes);
}

/** Streams a sniffed upload to `key`; more than `maxBytes` is a 413. Nothing is left under `key` on failure. */
async function putUpload(blobs: BlobStore, key: string, upload: SniffedUpload, maxBytes: number): Promise<{ size: number }> {
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
