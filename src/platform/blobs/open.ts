import { LocalBlobStore } from './local.ts';
import type { S3BlobStoreOptions } from './s3.ts';
import type { BlobStore } from './types.ts';

export type BlobStoreOptions = {
  /** The embedded profile's directory (the app passes `DATA_DIR/blobs`); unused with `s3`. */
  readonly localDir: string;
  /** Set when a bucket is configured: blobs then live in it, shared by every instance. */
  readonly s3?: S3BlobStoreOptions;
};

export async function openBlobStore(options: BlobStoreOptions): Promise<BlobStore> {
  if (options.s3 === undefined) return LocalBlobStore.open(options.localDir);
  // The AWS SDK is loaded only for a bucket: it adds about 15 MB and 0.1 s to every start.
  const { S3BlobStore } = await import('./s3.ts');
  return new S3BlobStore(options.s3);
}
