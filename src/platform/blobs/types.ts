import type { Readable } from 'node:stream';

/** Inclusive byte offsets, as in an HTTP `Range: bytes=start-end` header. */
export type ByteRange = { readonly start: number; readonly end: number };

export type BlobInfo = { readonly size: number; readonly modifiedAt: Date };

export type ListedBlob = BlobInfo & { readonly key: string };

/** How a direct link to a blob answers: for how long it works, and the headers it sends. */
export type DirectLinkOptions = {
  readonly expiresInSeconds: number;
  readonly contentType: string;
  readonly contentDisposition: string;
};

export type PutOptions = {
  /** More bytes than this and the write is refused with a BlobTooLargeError. */
  readonly maxBytes: number;
  /** Stored with the object where the backend keeps metadata (S3); the database is the record of it. */
  readonly contentType?: string;
};

/**
 * Bytes by key. Keys are made by the server: `/`-separated segments of letters, digits, `.`, `_`
 * and `-`, none starting with a dot (e.g. `media/01HZX…/original`); any other key throws.
 * The local directory store and the S3 store hold the same contract (test/platform/blobs.test.ts).
 */
export interface BlobStore {
  /**
   * Streams `body` to `key` and resolves with its byte count once it is stored whole. A failed write
   * (more than `maxBytes`, `body` erroring, the backend failing) leaves nothing new under `key`, and,
   * as with `stream.pipeline`, destroys `body`.
   */
  put(key: string, body: Readable, options: PutOptions): Promise<{ size: number }>;
  /**
   * The whole blob, or the bytes of `range` (its end is clamped to the last byte); `size` is always
   * the size of the whole blob. `undefined` when absent; a RangeError when `range` starts past the end.
   */
  get(key: string, range?: ByteRange): Promise<{ body: Readable; size: number } | undefined>;
  head(key: string): Promise<BlobInfo | undefined>;
  /** Removes `key`; removing an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** Every blob whose key starts with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<ListedBlob>;
  /**
   * Stores a whole file of this machine under `key`, without streaming it through (the local store
   * hard-links it). Same guarantees as `put`; the file itself is left where it is. Absent where the
   * backend cannot do better than `put` with a read stream.
   */
  putLocalFile?(key: string, sourcePath: string, options: PutOptions): Promise<{ size: number }>;
  /**
   * A URL that serves the blob straight from the backend, without Plaza in the path (S3 presigned
   * GET). Absent where the backend has no such URLs (the local directory).
   */
  directLink?(key: string, options: DirectLinkOptions): Promise<string>;
  /** Resolves when the store can be written to; rejects otherwise (for readiness checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
