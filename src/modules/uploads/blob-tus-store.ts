import { Readable } from 'node:stream';
import { DataStore, ERRORS, Upload } from '@tus/server';
import type { BlobStore } from '#platform/blobs/types.ts';

export type BlobTusStoreOptions = {
  blobs: BlobStore;
  /** Where uploads live in the store, e.g. `uploads/`: `<prefix><id>/info` and `<prefix><id>/p<offset>`. */
  prefix: string;
  /** Bytes per stored piece: what an interrupted PATCH loses at most. */
  pieceBytes: number;
  /** Incomplete uploads older than this are gone (0: never). */
  expirationPeriodInMilliseconds: number;
  /** Told of a failure the expiry sweep steps over (the upload is tried again on the next sweep). */
  onError: (error: unknown, uploadId: string, what: string) => void;
};

/** What the info object holds: the upload as created (its offset comes from the pieces). */
type Info = { size?: number; metadata?: Record<string, string | null>; creation_date?: string };

const INFO_MAX_BYTES = 256 * 1024;
const PIECE = /\/p(\d{16})$/;

/**
 * A tus data store on top of Plaza's blob store (used with S3), instead of `@tus/s3-store`: that one
 * needs ListParts, AbortMultipartUpload and ListMultipartUploads, which not every S3-compatible
 * server has (s3rver, the test server, has none of them), and it spools parts to temporary files.
 *
 * Each PATCH body is stored as pieces of at most `pieceBytes`, one object per piece, named by the
 * offset it starts at; the upload's offset is the end of the run of contiguous pieces. A PATCH cut
 * off mid-piece keeps the pieces it completed. The blob store streams each piece (S3 multipart for
 * large ones), so memory stays bounded and nothing is spooled to disk. State lives in the bucket
 * only, so it survives restarts and is shared by every instance.
 */
export class BlobTusStore extends DataStore {
  readonly #blobs: BlobStore;
  readonly #prefix: string;
  readonly #pieceBytes: number;
  readonly #expirationMs: number;
  readonly #onError: BlobTusStoreOptions['onError'];

  constructor(options: BlobTusStoreOptions) {
    super();
    this.#blobs = options.blobs;
    this.#prefix = options.prefix;
    this.#pieceBytes = options.pieceBytes;
    this.#expirationMs = options.expirationPeriodInMilliseconds;
    this.#onError = options.onError;
    this.extensions = ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration'];
  }

  #dir(id: string): string {
    return `${this.#prefix}${id}/`;
  }

  #infoKey(id: string): string {
    return `${this.#dir(id)}info`;
  }

  #pieceKey(id: string, offset: number): string {
    return `${this.#dir(id)}p${String(offset).padStart(16, '0')}`;
  }

  async #readInfo(id: string): Promise<Info> {
    const blob = await this.#blobs.get(this.#infoKey(id));
    if (blob === undefined) throw ERRORS.FILE_NOT_FOUND;
    const chunks: Buffer[] = [];
    for await (const chunk of blob.body as AsyncIterable<Buffer>) chunks.push(chunk);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Info;
  }

  async #writeInfo(id: string, info: Info): Promise<void> {
    const body = Readable.from([Buffer.from(JSON.stringify(info), 'utf8')]);
    await this.#blobs.put(this.#infoKey(id), body, { maxBytes: INFO_MAX_BYTES, contentType: 'application/json' });
  }

  /** The contiguous pieces from offset 0, in order, and the offset they reach. */
  async #pieces(id: string): Promise<{ pieces: { key: string; size: number }[]; offset: number }> {
    const found: { key: string; start: number; size: number }[] = [];
    for await (const blob of this.#blobs.list(this.#dir(id))) {
      const match = PIECE.exec(blob.key);
      if (match?.[1] !== undefined) found.push({ key: blob.key, start: Number(match[1]), size: blob.size });
    }
    found.sort((a, b) => a.start - b.start);
    const pieces: { key: string; size: number }[] = [];
    let offset = 0;
    for (const piece of found) {
      if (piece.start !== offset) break;
      pieces.push(piece);
      offset += piece.size;
    }
    return { pieces, offset };
  }

  override async create(upload: Upload): Promise<Upload> {
    upload.creation_date ??= new Date().toISOString();
    await this.#writeInfo(upload.id, { size: upload.size, metadata: upload.metadata, creation_date: upload.creation_date });
    upload.storage = { type: 'blobs', path: this.#dir(upload.id) };
    return upload;
  }

  override async getUpload(id: string): Promise<Upload> {
    const info = await this.#readInfo(id);
    const { offset } = await this.#pieces(id);
    return new Upload({
      id,
      size: info.size,
      offset,
      metadata: info.metadata,
      creation_date: info.creation_date,
      storage: { type: 'blobs', path: this.#dir(id) },
    });
  }

  override async write(source: Readable, id: string, offset: number): Promise<number> {
    const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let pending: Buffer | undefined;
    let ended = false;

    /** The next chunk of the body, or undefined at its end. */
    const next = async (): Promise<Buffer | undefined> => {
      if (pending !== undefined) {
        const chunk = pending;
        pending = undefined;
        return chunk;
      }
      if (ended) return undefined;
      const result = await chunks.next();
      if (result.done) {
        ended = true;
        return undefined;
      }
      return result.value;
    };

    /** Up to `limit` bytes of the body. */
    async function* take(limit: number): AsyncGenerator<Buffer> {
      let left = limit;
      while (left > 0) {
        let chunk = await next();
        if (chunk === undefined) return;
        if (chunk.length > left) {
          pending = chunk.subarray(left);
          chunk = chunk.subarray(0, left);
        }
        left -= chunk.length;
        yield chunk;
      }
    }

    let position = offset;
    for (;;) {
      // Peek first, so an empty body (or one ending on a piece boundary) stores no empty piece.
      const first = await next();
      if (first === undefined) break;
      pending = first;
      const body = Readable.from(take(this.#pieceBytes), { objectMode: false });
      const { size } = await this.#blobs.put(this.#pieceKey(id, position), body, { maxBytes: this.#pieceBytes });
      position += size;
    }
    return position;
  }

  async read(id: string): Promise<Readable> {
    const { pieces } = await this.#pieces(id);
    const blobs = this.#blobs;
    async function* concatenate(): AsyncGenerator<Buffer> {
      for (const piece of pieces) {
        const blob = await blobs.get(piece.key);
        if (blob === undefined) throw new Error(`tus upload piece ${piece.key} vanished`);
        yield* blob.body as AsyncIterable<Buffer>;
      }
    }
    return Readable.from(concatenate(), { objectMode: false });
  }

  override async remove(id: string): Promise<void> {
    if ((await this.#blobs.head(this.#infoKey(id))) === undefined) throw ERRORS.FILE_NOT_FOUND;
    for await (const blob of this.#blobs.list(this.#dir(id))) {
      if (blob.key !== this.#infoKey(id)) await this.#blobs.delete(blob.key);
    }
    // The info goes last: until then the upload can still be found and removed again.
    await this.#blobs.delete(this.#infoKey(id));
  }

  override async declareUploadLength(id: string, length: number): Promise<void> {
    const info = await this.#readInfo(id);
    await this.#writeInfo(id, { ...info, size: length });
  }

  override async deleteExpired(): Promise<number> {
    if (this.#expirationMs <= 0) return 0;
    const now = Date.now();
    const ids = new Set<string>();
    for await (const blob of this.#blobs.list(this.#prefix)) {
      const rest = blob.key.slice(this.#prefix.length);
      if (rest.endsWith('/info')) ids.add(rest.slice(0, -'/info'.length));
    }
    let removed = 0;
    for (const id of ids) {
      // Complete ones too: a finished upload is consumed at once; one still here a day later was not.
      const info = await this.#readInfo(id).catch((error: unknown) => {
        this.#stepOver(error, id, 'could not read the info of an upload');
        return undefined;
      });
      if (info?.creation_date === undefined) continue;
      if (now <= new Date(info.creation_date).getTime() + this.#expirationMs) continue;
      try {
        await this.remove(id);
        removed += 1;
      } catch (error) {
        this.#stepOver(error, id, 'could not remove an expired upload');
      }
    }
    return removed;
  }

  /** One upload's failure in the sweep: quiet when it is gone already (removed meanwhile), told otherwise. */
  #stepOver(error: unknown, id: string, what: string): void {
    if (error !== ERRORS.FILE_NOT_FOUND) this.#onError(error, id, what);
  }

  override getExpiration(): number {
    return this.#expirationMs;
  }
}
