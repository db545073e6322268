import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteLimit } from './byte-limit.ts';
import { assertValidKey, assertValidPrefix, assertValidRange } from './keys.ts';
import type { BlobInfo, BlobStore, ByteRange, DirectLinkOptions, ListedBlob, PutOptions } from './types.ts';

export type S3BlobStoreOptions = {
  readonly bucket: string;
  readonly region: string;
  /** Any S3-compatible server (MinIO, R2, …); AWS's own endpoint when absent. */
  readonly endpoint?: string;
  /** The SDK's default chain (AWS_* variables, instance roles, …) when absent. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** `https://host/bucket/key` instead of `https://bucket.host/key`; most self-hosted servers need it. */
  readonly forcePathStyle?: boolean;
  /** Keys per ListObjectsV2 request: S3's maximum, 1,000, unless set (tests page through a few). */
  readonly listPageSize?: number;
};

/** Blobs as objects in one S3 bucket, shared by every instance of the production profile. */
export class S3BlobStore implements BlobStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #listPageSize: number | undefined;

  constructor(options: S3BlobStoreOptions) {
    this.#bucket = options.bucket;
    this.#listPageSize = options.listPageSize;
    this.#client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      credentials: options.credentials,
      forcePathStyle: options.forcePathStyle,
    });
  }

  async put(key: string, body: Readable, options: PutOptions): Promise<{ size: number }> {
    assertValidKey(key);
    const limit = new ByteLimit(options.maxBytes);
    // Upload reads `limit` part by part (5 MiB each, a few at a time), so memory stays bounded. When
    // `limit` fails, the upload stops and aborts its multipart upload before `done()` rejects.
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#bucket, Key: key, Body: limit, ContentType: options.contentType },
    });
    const uploaded = upload.done().catch((error: unknown) => {
      limit.destroy(error as Error); // nothing reads `limit` any more: stop the body too
      throw error;
    });
    const [piped, sent] = await Promise.allSettled([pipeline(body, limit), uploaded]);
    // A failing body (its own error, or the limit) fails the upload too, so its error is the cause;
    // but an upload failing first stops reading `limit`, which Node then destroys with an AbortError.
    if (piped.status === 'rejected' && !(sent.status === 'rejected' && isAbortError(piped.reason))) throw piped.reason;
    if (sent.status === 'rejected') throw sent.reason;
    return { size: limit.bytes };
  }

  async get(key: string, range?: ByteRange): Promise<{ body: Readable; size: number } | undefined> {
    assertValidKey(key);
    if (range !== undefined) assertValidRange(range);
    const rangeHeader = range === undefined ? undefined : `bytes=${range.start}-${range.end}`;
    let answer;
    try {
      answer = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key, Range: rangeHeader }));
    } catch (error) {
      if (isMissing(error)) return undefined;
      if (error instanceof S3ServiceException && error.name === 'InvalidRange') {
        throw new RangeError(`Range ${rangeHeader} starts past the end of ${key}`, { cause: error });
      }
      throw error;
    }
    const body = answer.Body as Readable;
    if (range === undefined) return { body, size: answer.ContentLength ?? 0 };
    return exactly(range, body, answer.ContentRange);
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    assertValidKey(key);
    try {
      const answer = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return { size: answer.ContentLength ?? 0, modifiedAt: answer.LastModified ?? new Date(0) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async directLink(key: string, options: DirectLinkOptions): Promise<string> {
    assertValidKey(key);
    const command = new GetObjectCommand({
      Bucket: this.#bucket,
      Key: key,
      ResponseContentType: options.contentType,
      ResponseContentDisposition: options.contentDisposition,
    });
    return getSignedUrl(this.#client, command, { expiresIn: options.expiresInSeconds });
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
  }

  async *list(prefix: string): AsyncIterable<ListedBlob> {
    assertValidPrefix(prefix);
    const pages = paginateListObjectsV2(
      { client: this.#client, pageSize: this.#listPageSize },
      { Bucket: this.#bucket, Prefix: prefix },
    );
    for await (const page of pages) {
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield { key: object.Key, size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) };
      }
    }
  }

  async ping(): Promise<void> {
    await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** HeadObject's 404 has no body, so the SDK names it NotFound; GetObject's says NoSuchKey. */
function isMissing(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound');
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

/**
 * The answer to a ranged GET, held to the range asked for: some S3-compatible servers answer more
 * (s3rver sends the whole object for `bytes=0-0`, and byte 0 of an empty one), and serving those
 * bytes would corrupt the client's copy.
 */
function exactly(range: ByteRange, body: Readable, contentRange: string | undefined) {
  const [, start, end, size] = (CONTENT_RANGE.exec(contentRange ?? '') ?? []).map(Number);
  if (start !== range.start || end === undefined || size === undefined) {
    body.destroy();
    throw new Error(`Asked S3 for bytes ${range.start}-${range.end}, got ${contentRange ?? 'no Content-Range'}`);
  }
  if (start >= size) {
    body.destroy();
    throw new RangeError(`Range starts at ${start}, past the end of a ${size}-byte blob`);
  }
  const wanted = Math.min(range.end, size - 1) - start + 1;
  return { body: end - start + 1 > wanted ? firstBytes(body, wanted) : body, size };
}

/** The first `count` bytes of `source`, which is destroyed once they have been read. */
function firstBytes(source: Readable, count: number): Readable {
  async function* take() {
    let left = count;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (chunk.length >= left) {
        yield chunk.subarray(0, left);
        return;
      }
      left -= chunk.length;
      yield chunk;
    }
  }
  return Readable.from(take(), { objectMode: false });
}
