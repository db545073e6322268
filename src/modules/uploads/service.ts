import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { FileStore } from '@tus/file-store';
import { DataStore, ERRORS, Server, type Locker, type Upload } from '@tus/server';
import type { Config } from '../../config.ts';
import type { BlobStore } from '#platform/blobs/types.ts';
import type { Database } from '#platform/db/database.ts';
import { AppError, errors } from '#http/errors.ts';
import { newId } from '#db/ids.ts';
import type { AccountsService } from '../accounts/service.ts';
import type { MediaService } from '../media/service.ts';
import { BlobTusStore } from './blob-tus-store.ts';
import * as store from './store.ts';
import type { UploadRow } from './store.ts';
import type { UploadFailure } from './tables.ts';

/**
 * FileStore's constructor starts creating its directory without waiting for it (throwing, where
 * nothing catches it, if that fails): a start-up could end, even the app close, before it is done.
 * The directory is made, synchronously, before this store is built, so that step is left out.
 */
class FileStoreInMadeDirectory extends FileStore {}
// Private in FileStore's types; the constructor finds this one first.
Object.defineProperty(FileStoreInMadeDirectory.prototype, 'checkOrCreateDirectory', { value: () => {} });

/** Where the tus endpoint lives; upload URLs are `${UPLOADS_PATH}/<uploadId>`. */
export const UPLOADS_PATH = '/v1/uploads';

const HOUR_MS = 3_600_000;
const MiB = 1024 * 1024;
/** Incomplete uploads are kept this long after they were created. */
export const DEFAULT_UPLOAD_EXPIRATION_MS = 24 * HOUR_MS;
/** A `completing` upload untouched this long belongs to a request that died with its process. */
const STUCK_COMPLETION_MS = HOUR_MS;
/** All tus is shown of a request's headers: its protocol's. No Host or X-Forwarded-* to build URLs from. */
const TUS_REQUEST_HEADERS = [
  'tus-resumable',
  'upload-length',
  'upload-defer-length',
  'upload-offset',
  'upload-metadata',
  'upload-concat',
  'content-type',
  'content-length',
] as const;

export type UploadsDeps = {
  db: Database;
  media: Pick<MediaService, 'upload' | 'uploadFile' | 'assertRoomFor' | 'storageUsed'>;
  /** The owner of the users' rows: its lock makes one user's quota checks (here and in media) take turns. */
  accounts: Pick<AccountsService, 'lockUser'>;
  /** The app's blob store: with S3 configured, uploads in progress live in its bucket under `uploads/`. */
  blobs: BlobStore;
  config: Pick<Config, 'dataDir' | 's3' | 'publicUrl' | 'media'>;
  logger: FastifyBaseLogger;
  /** How long an incomplete upload is kept (default 24 h). */
  expirationMs?: number;
  /** S3 only: bytes per stored piece, what an interrupted PATCH loses at most (default 8 MiB). */
  pieceBytes?: number;
  /** Who may work on an upload at a time: shared by every instance (see postgres-locker.ts); tus's in-process one when absent. */
  locker?: Locker;
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

/** A tus request (POST, HEAD, PATCH, DELETE) as the routes hand it over. */
export type TusCall = {
  ownerId: string;
  method: string;
  /** The id in the upload URL, not yet checked; undefined for a creation. */
  uploadId: string | undefined;
  headers: Headers;
  /** The body, unread; undefined when the request has none. */
  body: ReadableStream<Uint8Array> | undefined;
};

/** tus's answer; `refusal` is set when Plaza's own rules (media type, size, quota) refused the request. */
export type TusAnswer = { response: Response; refusal: AppError | undefined };

/** One tus request on its way through @tus/server: what its hooks need to know of it. */
type Exchange = {
  ownerId: string;
  /** The upload tus works on: the id checked against the owner, or the one a creation made. */
  uploadId: string | undefined;
  /** Deferred-length uploads only: bytes of body that may pass before the quota refuses the rest. */
  bodyLimit: number | undefined;
  /** Deferred-length uploads only: the reservation this request made, settled once it ends. */
  reservation: string | undefined;
  refusal: AppError | undefined;
  /** The upload became a media item in this request: its tus copy goes once tus is done with it. */
  finished: boolean;
};

type TusStore = DataStore & { read(id: string): Readable | Promise<Readable> };

export type UploadsService = ReturnType<typeof createUploadsService>;

/**
 * tus 1.0 resumable uploads (creation, creation-with-upload, creation-defer-length, termination,
 * expiration) that end as media items: when the last byte lands, the upload is handed to the media
 * service, which sniffs, limits and stores it, and the tus copy is removed. Each upload has a
 * `resumable_uploads` row naming its owner, written at creation and checked before any tus request
 * reaches the store; tus then works on that checked id only, whatever else the request says.
 *
 * Unfinished uploads count against their owner's quota for what they may still become: the declared
 * length, or for a deferred-length upload what it has received plus what the request writing to it
 * may add. Every reservation is made under a lock on the owner, the one media takes before it stores
 * bytes, so neither racing creations nor racing PATCHes get past the quota.
 */
export function createUploadsService(deps: UploadsDeps) {
  const { db, media, accounts, config, logger } = deps;
  const expirationMs = deps.expirationMs ?? DEFAULT_UPLOAD_EXPIRATION_MS;
  /** Where the file store keeps uploads (each one a file named by its id); undefined with S3. */
  const fileDirectory = config.s3 === undefined ? join(config.dataDir, 'uploads') : undefined;
  const datastore: TusStore = openStore();
  const exchanges = new WeakMap<Request, Exchange>();

  function openStore(): TusStore {
    if (fileDirectory === undefined) {
      return new BlobTusStore({
        blobs: deps.blobs,
        prefix: 'uploads/',
        pieceBytes: deps.pieceBytes ?? 8 * MiB,
        expirationPeriodInMilliseconds: expirationMs,
        onError: (error, uploadId, what) => logger.warn({ err: error, uploadId }, `uploads: ${what}`),
      });
    }
    mkdirSync(fileDirectory, { recursive: true });
    return new FileStoreInMadeDirectory({ directory: fileDirectory, expirationPeriodInMilliseconds: expirationMs });
  }

  function exchangeOf(request: Request): Exchange {
    const exchange = exchanges.get(request);
    if (exchange === undefined) throw new Error('uploads: a tus request that did not come through handle()');
    return exchange;
  }

  function refuse(exchange: Exchange, error: AppError): AppError {
    exchange.refusal = error;
    return error;
  }

  /** Removes the tus copy of an upload; what cannot be removed now, expiry removes later. */
  async function discard(id: string): Promise<void> {
    await datastore.remove(id).catch((error: unknown) => {
      if (isTusError(error, 404)) return;
      logger.warn({ err: error, uploadId: id }, 'uploads: could not remove the bytes of an upload');
    });
  }

  /** The tus copy of an upload; undefined when it is gone or expired. */
  async function tusUpload(id: string): Promise<Upload | undefined> {
    return datastore.getUpload(id).catch((error: unknown) => {
      if (isTusError(error, 404) || isTusError(error, 410)) return undefined;
      throw error;
    });
  }

  /** The caller's upload `id`, when a tus request with `method` may go on to it: 404 for anyone else's. */
  async function admit(ownerId: string, id: string, method: string): Promise<UploadRow> {
    const row = await store.findOwnUpload(db, ownerId, id);
    if (row === undefined || row.status === 'failed') throw errors.notFound('upload');
    if (row.status === 'uploading' || method === 'HEAD') return row;
    throw new AppError(409, 'conflict', row.status === 'done' ? 'This upload is complete' : 'This upload is being completed');
  }

  /**
   * Locks the owner until `trx` ends, and says how many bytes an upload of theirs (`uploadId`, or a
   * new one) may hold in all: the quota less their stored media and their other unfinished uploads.
   */
  async function roomFor(trx: Database, ownerId: string, uploadId: string | undefined): Promise<{ room: number; open: number }> {
    if (!(await accounts.lockUser(trx, ownerId))) throw errors.invalidAccessToken('The account no longer exists');
    const others = await store.openUploadsOf(trx, ownerId, uploadId);
    const stored = await media.storageUsed(trx, ownerId);
    return { room: config.media.quotaBytes - stored - others.reservedBytes, open: others.count };
  }

  /**
   * Writes the row of a new upload, holding its declared length of the quota, or for a deferred-length
   * one the body of this request (all the room left when the body's length is unknown). 409 past the
   * unfinished uploads a user may have, 413 past the quota.
   */
  async function reserveNew(exchange: Exchange, upload: Upload, request: Request): Promise<void> {
    const { ownerId } = exchange;
    // A declared length over every kind's limit is refused first, as such.
    if (upload.size !== undefined) await media.assertRoomFor(ownerId, upload.size);
    const deferred = upload.size === undefined;
    const reservation = deferred ? newId() : undefined;
    const room = await db.transaction().execute(async (trx) => {
      const { room, open } = await roomFor(trx, ownerId, undefined);
      if (open >= config.media.resumableMaxOpenPerUser) throw tooManyOpenUploads(config.media.resumableMaxOpenPerUser);
      const body = wholeNumber(request.headers.get('content-length')) ?? Math.min(room, config.media.resumableMaxBytes);
      const holds = upload.size ?? (request.body === null ? 0 : body);
      if (room <= 0 || holds > room) throw quotaExceeded(config.media.quotaBytes);
      const row = { id: upload.id, ownerId, length: upload.size, reservedBytes: holds, reservedBy: reservation, now: new Date() };
      await store.insertUpload(trx, row);
      return room;
    });
    exchange.uploadId = upload.id;
    if (deferred) {
      exchange.reservation = reservation;
      exchange.bodyLimit = room;
    }
  }

  /**
   * Before a PATCH on a deferred-length upload: reserves what the upload may hold once it ends — the
   * Upload-Length it declares, or what it has plus this body (all the room left when the body's length
   * is unknown) — and bounds the body by the room. 413, changing nothing, when that does not fit.
   */
  async function reserveForPatch(exchange: Exchange, row: UploadRow, headers: Headers): Promise<void> {
    // tus refuses a missing or malformed Upload-Offset or Upload-Length before it reads a byte; none passes meanwhile.
    exchange.bodyLimit = 0;
    const offset = wholeNumber(headers.get('upload-offset'));
    const length = headers.get('upload-length');
    const declared = length === null ? undefined : wholeNumber(length);
    if (offset === undefined || (length !== null && declared === undefined)) return;
    const reservation = newId();
    const room = await db.transaction().execute(async (trx) => {
      const { room } = await roomFor(trx, exchange.ownerId, row.id);
      const body = wholeNumber(headers.get('content-length')) ?? Math.max(0, Math.min(room, config.media.resumableMaxBytes) - offset);
      const holds = declared ?? offset + body;
      if (holds > room) throw quotaExceeded(config.media.quotaBytes);
      // Never below what it held: a request that died before settling may have left more on its way.
      await store.reserve(trx, row.id, Math.max(holds, row.reserved_bytes), reservation);
      return room;
    });
    exchange.reservation = reservation;
    exchange.bodyLimit = Math.max(0, room - offset);
  }

  /** After a request on a deferred-length upload: what it reserved becomes what the upload holds now. */
  async function settle(exchange: Exchange): Promise<void> {
    const { uploadId, reservation } = exchange;
    if (uploadId === undefined || reservation === undefined) return;
    try {
      const upload = await tusUpload(uploadId);
      if (upload === undefined) return;
      await store.settleReservation(db, uploadId, reservation, { reservedBytes: upload.size ?? upload.offset, length: upload.size });
    } catch (error) {
      // The upload keeps holding what was reserved (more than it has), until its next request settles it.
      logger.warn({ err: error, uploadId }, 'uploads: could not settle the reservation of an upload');
    }
  }

  /**
   * Once tus has answered: a finished upload's tus copy goes, and so does a creation answered without
   * its Location (refused, cut off: no one can reach it); a terminated upload's row goes; anything
   * else settles what it reserved.
   */
  async function afterwards(method: string, response: Response, exchange: Exchange): Promise<void> {
    const id = exchange.uploadId;
    if (id === undefined) return;
    if (exchange.finished) await discard(id);
    else if (method === 'POST' && response.status !== 201) {
      if (await store.deleteUnfinishedUpload(db, id)) await discard(id);
    } else if (method === 'DELETE' && response.status === 204) await store.deleteUpload(db, id);
    else await settle(exchange);
  }

  /** The web request tus sees: its URL made from the checked id alone, tus's headers only, the body bounded by the quota. */
  function tusRequest(call: TusCall, exchange: Exchange): Request {
    const headers = new Headers();
    for (const name of TUS_REQUEST_HEADERS) {
      const value = call.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    const path = exchange.uploadId === undefined ? UPLOADS_PATH : `${UPLOADS_PATH}/${exchange.uploadId}`;
    const body = call.body === undefined || exchange.bodyLimit === undefined ? call.body : bounded(call.body, exchange);
    return new Request(`http://localhost${path}`, { method: call.method, headers, ...(body !== undefined && { body, duplex: 'half' }) });
  }

  /** `body`, refused for the quota (413) once more than `exchange.bodyLimit` bytes of it have passed. */
  function bounded(body: ReadableStream<Uint8Array>, exchange: Exchange): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    let passed = 0;
    return new ReadableStream<Uint8Array>(
      {
        // Pulled as tus reads, so the limit a creation sets once its row is written applies to every byte.
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          passed += value.byteLength;
          if (passed > (exchange.bodyLimit ?? 0)) {
            controller.error(refuse(exchange, quotaExceeded(config.media.quotaBytes)));
            await reader.cancel();
            return;
          }
          controller.enqueue(value);
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
  }

  /** The last byte has landed: the bytes become a media item, or are refused; either way the tus copy goes. */
  async function finish(request: Request, upload: Upload): Promise<Record<string, never>> {
    const exchange = exchangeOf(request);
    const { ownerId } = exchange;
    const key = { id: upload.id, ownerId };
    // Once `completing`, what the upload holds no longer counts in media's quota check (see media's
    // `quotaTaken`): the item it becomes takes its place there, instead of fitting beside it.
    if (!(await store.moveUpload(db, key, 'uploading', 'completing', new Date()))) {
      throw refuse(exchange, new AppError(409, 'conflict', 'This upload is already complete or being completed'));
    }
    let body: Readable | undefined;
    try {
      const fileName = upload.metadata?.filename ?? undefined;
      // A file-store upload is a whole file on this machine: the media store may take it without a copy.
      const created =
        fileDirectory !== undefined
          ? await media.uploadFile(ownerId, { path: join(fileDirectory, upload.id), fileName })
          : await media.upload(ownerId, { body: (body = await datastore.read(upload.id)), fileName, declaredBytes: upload.size });
      await store.moveUpload(db, key, 'completing', 'done', new Date(), { mediaId: created.id, length: upload.size ?? upload.offset });
      // Not removed yet: after this hook, a creation request still reads the upload for its answer.
      exchange.finished = true;
      return {};
    } catch (error) {
      body?.destroy();
      if (error instanceof AppError && error.status < 500) {
        // The bytes are refused (type, size, quota): the client must not resume this upload.
        const failure = { status: error.status, code: error.code, detail: error.message };
        await store.moveUpload(db, key, 'completing', 'failed', new Date(), { failure });
        await discard(upload.id);
        throw refuse(exchange, error);
      }
      // Our fault: the bytes stay, and the client may send its final (empty) PATCH again.
      await store.moveUpload(db, key, 'completing', 'uploading', new Date());
      throw error;
    }
  }

  const tus = new Server({
    path: UPLOADS_PATH,
    datastore,
    ...(deps.locker !== undefined && { locker: deps.locker }),
    maxSize: config.media.resumableMaxBytes,
    // Relative unless PUBLIC_URL says otherwise: nothing of the request (Host, X-Forwarded-*) goes into it.
    generateUrl: (_request, { path, id }) => `${config.publicUrl}${path}/${id}`,
    // The id the routes checked against the caller, never one read from the URL.
    getFileIdFromRequest: (request) => exchangeOf(request).uploadId,
    // Server-made ids: nothing the client sends names anything in storage.
    namingFunction: () => newId(),
    // CORS is the app's (@fastify/cors): the routes drop tus's own CORS headers.
    allowedOrigins: () => false,
    async onUploadCreate(request, upload) {
      const exchange = exchangeOf(request);
      await reserveNew(exchange, upload, request).catch((error: unknown) => {
        throw error instanceof AppError ? refuse(exchange, error) : error;
      });
      return {};
    },
    onUploadFinish: (request, upload) => finish(request, upload),
    onResponseError(request, error) {
      const exchange = exchangeOf(request);
      const refusal = exchange.refusal ?? (error instanceof AppError ? refuse(exchange, error) : undefined);
      if (refusal !== undefined) return { status_code: refusal.status, body: refusal.message };
      if (isTusError(error)) return clientStatusFor(error);
      logger.error({ err: error }, 'uploads: tus request failed');
      return { status_code: 500, body: 'Something went wrong on our side' };
    },
  });

  return {
    /** The largest upload accepted, in bytes. */
    maxBytes: config.media.resumableMaxBytes,
    /** How many unfinished uploads a user may have. */
    maxOpenPerUser: config.media.resumableMaxOpenPerUser,

    /**
     * Runs one tus request for its caller: on their own upload only (404 for anyone else's, 409 for
     * one complete or being completed), within their quota and their number of unfinished uploads.
     */
    async handle(call: TusCall): Promise<TusAnswer> {
      const exchange: Exchange = {
        ownerId: call.ownerId,
        uploadId: undefined,
        bodyLimit: undefined,
        reservation: undefined,
        refusal: undefined,
        finished: false,
      };
      if (call.uploadId !== undefined) {
        const row = await admit(call.ownerId, call.uploadId, call.method);
        exchange.uploadId = row.id;
        if (row.status === 'done') return { response: completeAnswer(row.length ?? 0), refusal: undefined };
        if (call.method === 'PATCH' && row.length === null) await reserveForPatch(exchange, row, call.headers);
      } else if (call.headers.has('upload-defer-length')) {
        // A deferred-length creation's body is bounded by the room its row reserves (none until then).
        exchange.bodyLimit = 0;
      }
      const request = tusRequest(call, exchange);
      exchanges.set(request, exchange);
      const response = await tus.handleWeb(request);
      await afterwards(call.method, response, exchange);
      return { response, refusal: exchange.refusal };
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
          const upload = await tusUpload(id);
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

/** HEAD on a finished upload: complete, so a client resuming it stops there. */
function completeAnswer(length: number): Response {
  const headers = { 'upload-offset': String(length), 'upload-length': String(length) };
  return new Response(null, { status: 200, headers: { 'tus-resumable': '1.0.0', 'cache-control': 'no-store', ...headers } });
}

/** A header's value as a whole number of bytes; undefined when absent or not one. */
function wholeNumber(value: string | null): number | undefined {
  if (value === null || !/^(0|[1-9]\d*)$/.test(value)) return undefined;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : undefined;
}

function quotaExceeded(quotaBytes: number): AppError {
  return new AppError(
    413,
    'payload_too_large',
    `This upload would take your storage past its quota of ${quotaBytes} bytes (your media and unfinished uploads count)`,
  );
}

/** Not a rate: the way out is to finish or terminate an upload, not to wait. */
function tooManyOpenUploads(limit: number): AppError {
  const detail = `You have ${limit} unfinished uploads, the most allowed: finish or terminate one first`;
  return new AppError(409, 'too_many_open_uploads', detail);
}

/** An error @tus/server made (an `ERRORS` entry), optionally with this status. */
function isTusError(error: unknown, status?: number): error is { status_code: number; body: string } {
  if (typeof error !== 'object' || error === null || !('status_code' in error)) return false;
  return status === undefined || error.status_code === status;
}

/**
 * tus's answers to bad input, made 4xx where @tus/server says otherwise: a missing Upload-Offset or
 * Content-Type is a bad request (not 403), an extension Plaza does not offer (concatenation) too
 * (not 501), and a lock held by another request on the same upload is a conflict (not 500), as is
 * a request ended because another one on the same upload asked for its lock.
 */
function clientStatusFor(error: { status_code: number; body: string }): { status_code: number; body: string } | undefined {
  if (error === ERRORS.MISSING_OFFSET || error === ERRORS.INVALID_CONTENT_TYPE) return { status_code: 400, body: error.body };
  if (error === ERRORS.ERR_LOCK_TIMEOUT) return { status_code: 409, body: 'Another request is using this upload' };
  if (error === ERRORS.ABORTED) return { status_code: 409, body: 'Another request took this upload over' };
  if (error.status_code === 501) return { status_code: 400, body: error.body };
  return undefined;
}
