import { LocalBlobStore } from './local.ts';
import { S3BlobStore, type S3BlobStoreOptions } from './s3.ts';
import type { BlobStore } from './types.ts';

export type BlobStoreOptions = {
  /** The embedded profile's directory (the app passes `DATA_DIR/blobs`); unused with `s3`. */
  readonly localDir: string;
  /** Set when a bucket is configured: blobs then live in it, shared by every instance. */
  readonly s3?: S3BlobStoreOptions;
};

export async function openBlobStore(options: BlobStoreOptions): Promise<BlobStore> {
  return options.s3 === undefined ? LocalBlobStore.open(options.localDir) : new S3BlobStore(options.s3);
}
