import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { FileStore } from '@tus/file-store';
import { DataStore, ERRORS, Server, type Upload } from '@tus/server';
import type { Config } from '../../config.ts';
import type { BlobStore } from '#platform/blobs/types.ts';
import type { Database } from '#platform/db/database.ts';
import { AppError, errors } from '#http/errors.ts';
import { newId } from '#db/ids.ts';
import type { MediaService } from '../media/service.ts';
import { BlobTusStore } from './blob-tus-store.ts';
import * as store from './store.ts';
import type { UploadFailure } from './tables.ts';

/** Where the tus endpoint lives; upload URLs are `${UPLOADS_PATH}/<uploadId>`. */
export const UPLOADS_PATH = '/v1/uploads';

const HOUR_MS = 3_600_000;
const MiB = 1024 * 1024;
/** Incomplete uploads are kept this long after they were created. */
export const DEFAULT_UPLOAD_EXPIRATION_MS = 24 * HOUR_MS;
/** A `completing` upload untouched this long belongs to a request that died with its process. */
const STUCK_COMPLETION_MS = HOUR_MS;

export type UploadsDeps = {
  db: Database;
  media: Pick<MediaService, 'upload' | 'uploadFile' | 'assertRoomFor'>;
  /** The app's blob store: with S3 configured, uploads in progress live in its bucket under `uploads/`. */
  blobs: BlobStore;
  config: Pick<Config, 'dataDir' | 's3' | 'trustProxy' | 'publicUrl' | 'media'>;
  logger: FastifyBaseLogger;
  /** How long an incomplete upload is kept (default 24 h). */
  expirationMs?: number;
  /** S3 only: bytes per stored piece, what an interrupted PATCH loses at most (default 8 MiB). */
  pieceBytes?: number;
};

/** What `GET /v1/uploads/{id}` answers. */
export type UploadState = {
  id: string;
  status: 'uploading' | 'completing' | 'done' | 'failed';
  mediaId: string | null;
  offset?: number;
  length?: number | null;
  error?: UploadFailure;
};

/** How a tus request on an existing upload goes on once its owner has been checked. */
export type Admission =
  | { kind: 'forward' }
  /** Finished: HEAD answers with the whole length, so a client resuming it sees it complete. */
  | { kind: 'finished'; length: number };

type TusStore = DataStore & { read(id: string): Readable | Promise<Readable> };

export type UploadsService = ReturnType<typeof createUploadsService>;

/**
 * tus 1.0 resumable uploads (creation, creation-with-upload, termination, expiration) that end as
 * media items: when the last byte lands, the upload is handed to the media service, which sniffs,
 * limits and stores it, and the tus copy is removed. Each upload has a `resumable_uploads` row naming
 * its owner, written at creation, which the routes check before any tus request reaches the store.
 */
export function createUploadsService(deps: UploadsDeps) {
  const { db, media, config, logger } = deps;
  const expirationMs = deps.expirationMs ?? DEFAULT_UPLOAD_EXPIRATION_MS;
  /** Where the file store keeps uploads (each one a file named by its id); undefined with S3. */
  const fileDirectory = config.s3 === undefined ? join(config.dataDir, 'uploads') : undefined;
  const datastore: TusStore = openStore();

  /** Who sent each tus request, and the refusal (if any) it is to be answered with. */
  const owners = new WeakMap<object, string>();
  const refusals = new WeakMap<object, AppError>();
  /** Uploads whose bytes became a media item in this request: their tus copy goes once tus is done with it. */
  const finished = new WeakMap<object, string>();

  function openStore(): TusStore {
    if (fileDirectory === undefined) {
      return new BlobTusStore({
        blobs: deps.blobs,
        prefix: 'uploads/',
        pieceBytes: deps.pieceBytes ?? 8 * MiB,
        expirationPeriodInMilliseconds: expirationMs,
      });
    }
    // Created here: FileStore creates it too, but asynchronously and throwing where nothing catches it.
    mkdirSync(fileDirectory, { recursive: true });
    return new FileStore({ directory: fileDirectory, expirationPeriodInMilliseconds: expirationMs });
  }

  function refuse(request: object, error: AppError): AppError {
    refusals.set(request, error);
    return error;
  }

  /** Removes the tus copy of an upload; what cannot be removed now, expiry removes later. */
  async function discard(id: string): Promise<void> {
    await datastore.remove(id).catch((error: unknown) => {
      if (isTusError(error, 404)) return;
      logger.warn({ err: error, uploadId: id }, 'uploads: could not remove the bytes of an upload');
    });
  }

  /** The last byte has landed: the bytes become a media item, or are refused; either way the tus copy goes. */
  async function finish(request: object, upload: Upload): Promise<Record<string, never>> {
    const ownerId = owners.get(request);
    if (ownerId === undefined) throw refuse(request, errors.unauthorized());
    if (!(await store.moveUpload(db, upload.id, 'uploading', 'completing', new Date()))) {
      throw refuse(request, new AppError(409, 'conflict', 'This upload is already complete or being completed'));
    }
    let body: Readable | undefined;
    try {
      const fileName = upload.metadata?.filename ?? undefined;
      // A file-store upload is a whole file on this machine: the media store may take it without a copy.
      const created =
        fileDirectory !== undefined
          ? await media.uploadFile(ownerId, { path: join(fileDirectory, upload.id), fileName })
          : await media.upload(ownerId, { body: (body = await datastore.read(upload.id)), fileName, declaredBytes: upload.size });
      await store.moveUpload(db, upload.id, 'completing', 'done', new Date(), { mediaId: created.id, length: upload.size ?? upload.offset });
      // Not removed yet: after this hook, a creation request still reads the upload for its answer.
      finished.set(request, upload.id);
      return {};
    } catch (error) {
      body?.destroy();
      if (error instanceof AppError && error.status < 500) {
        // The bytes are refused (type, size, quota): the client must not resume this upload.
        const failure = { status: error.status, code: error.code, detail: error.message };
        await store.moveUpload(db, upload.id, 'completing', 'failed', new Date(), { failure });
        await discard(upload.id);
        throw refuse(request, error);
      }
      // Our fault: the bytes stay, and the client may send its final (empty) PATCH again.
      await store.moveUpload(db, upload.id, 'completing', 'uploading', new Date());
      throw error;
    }
  }

  const tus = new Server({
    path: UPLOADS_PATH,
    datastore,
    maxSize: config.media.resumableMaxBytes,
    respectForwardedHeaders: config.trustProxy,
    ...(config.publicUrl !== '' && { generateUrl: (_request, { path, id }) => `${config.publicUrl}${path}/${id}` }),
    // Server-made ids: nothing the client sends names anything in storage.
    namingFunction: () => newId(),
    // CORS is the app's (@fastify/cors): the routes drop tus's own CORS headers.
    allowedOrigins: () => false,
    async onUploadCreate(request, upload) {
      const ownerId = owners.get(request);
      if (ownerId === undefined) throw refuse(request, errors.unauthorized());
      // Refused now rather than after gigabytes: a declared length over every limit or the quota.
      if (upload.size !== undefined) {
        await media.assertRoomFor(ownerId, upload.size).catch((error: unknown) => {
          throw error instanceof AppError ? refuse(request, error) : error;
        });
      }
      await store.insertUpload(db, { id: upload.id, ownerId, length: upload.size, now: new Date() });
      return {};
    },
    onUploadFinish: (request, upload) => finish(request, upload),
    onResponseError(request, error) {
      const refusal = refusals.get(request) ?? (error instanceof AppError ? refuse(request, error) : undefined);
      if (refusal !== undefined) return { status_code: refusal.status, body: refusal.message };
      if (isTusError(error)) return clientStatusFor(error);
      logger.error({ err: error }, 'uploads: tus request failed');
      return { status_code: 500, body: 'Something went wrong on our side' };
    },
  });

  return {
    /** The largest upload accepted, in bytes. */
    maxBytes: config.media.resumableMaxBytes,

    /**
     * Runs one tus request (POST, HEAD, PATCH, DELETE) for `ownerId`. `refusal` is set when the
     * request was refused by Plaza's own rules (media type, size, quota) rather than by tus.
     */
    async handle(request: Request, ownerId: string): Promise<{ response: Response; refusal: AppError | undefined }> {
      owners.set(request, ownerId);
      const response = await tus.handleWeb(request);
      const done = finished.get(request);
      if (done !== undefined) await discard(done);
      return { response, refusal: refusals.get(request) };
    },

    /** Checks that `id` is the caller's upload and says how a tus request on it goes on. */
    async admit(ownerId: string, id: string, method: string): Promise<Admission> {
      const row = await store.findOwnUpload(db, ownerId, id);
      if (row === undefined || row.status === 'failed') throw errors.notFound('upload');
      if (row.status === 'uploading' || (row.status === 'completing' && method === 'HEAD')) return { kind: 'forward' };
      if (row.status === 'done' && method === 'HEAD') return { kind: 'finished', length: row.length ?? 0 };
      throw new AppError(409, 'conflict', row.status === 'done' ? 'This upload is complete' : 'This upload is being completed');
    },

    /** Forgets an upload the client terminated (its bytes are already gone). */
    async terminated(id: string): Promise<void> {
      await store.deleteUpload(db, id);
    },

    /** Where one of the caller's uploads stands; `mediaId` is set once its last byte has landed. */
    async state(ownerId: string, id: string): Promise<UploadState> {
      const row = await store.findOwnUpload(db, ownerId, id);
      if (row === undefined) throw errors.notFound('upload');
      switch (row.status) {
        case 'done':
          // Its media item has been deleted since: nothing is left to find.
          if (row.media_id === null) throw errors.notFound('upload');
          return { id, status: 'done', mediaId: row.media_id, offset: row.length ?? 0, length: row.length };
        case 'failed':
          return { id, status: 'failed', mediaId: null, ...(row.failure !== null && { error: row.failure }) };
        default: {
          const upload = await datastore.getUpload(id).catch((error: unknown) => {
            if (isTusError(error, 404) || isTusError(error, 410)) return undefined;
            throw error;
          });
          if (upload === undefined) throw errors.notFound('upload');
          return { id, status: row.status, mediaId: null, offset: upload.offset, length: upload.size ?? null };
        }
      }
    },

    /**
     * Removes incomplete uploads past their expiry: their bytes (the store's own clean-up, which also
     * finds bytes no row points to) and their rows, and rows of finished uploads whose media item is
     * gone. Resolves with how many byte sets and rows it removed. For the periodic sweeper.
     */
    async removeExpiredUploads(): Promise<number> {
      let removed = await tus.cleanUpExpiredUploads().catch((error: unknown) => {
        // Bytes left now are found on the next sweep; the rows below are independent of them.
        logger.warn({ err: error }, 'uploads: could not clean up expired uploads in storage');
        return 0;
      });
      const now = Date.now();
      const expired = new Date(now - expirationMs);
      for (;;) {
        const rows = await store.staleUploads(db, expired, new Date(now - STUCK_COMPLETION_MS), 200);
        for (const row of rows) {
          await discard(row.id);
          await store.deleteUpload(db, row.id);
        }
        removed += rows.length;
        if (rows.length < 200) break;
      }
      removed += await store.deleteOrphanedDone(db, expired);
      return removed;
    },
  };
}

/** An error @tus/server made (an `ERRORS` entry), optionally with this status. */
function isTusError(error: unknown, status?: number): error is { status_code: number; body: string } {
  if (typeof error !== 'object' || error === null || !('status_code' in error)) return false;
  return status === undefined || error.status_code === status;
}

/**
 * tus's answers to bad input, made 4xx where @tus/server says otherwise: a missing Upload-Offset or
 * Content-Type is a bad request (not 403), an extension Plaza does not offer (concatenation) too
 * (not 501), and a lock held by another request on the same upload is a conflict (not 500).
 */
function clientStatusFor(error: { status_code: number; body: string }): { status_code: number; body: string } | undefined {
  if (error === ERRORS.MISSING_OFFSET || error === ERRORS.INVALID_CONTENT_TYPE) return { status_code: 400, body: error.body };
  if (error === ERRORS.ERR_LOCK_TIMEOUT) return { status_code: 409, body: 'Another request is using this upload' };
  if (error.status_code === 501) return { status_code: 400, body: error.body };
  return undefined;
}
