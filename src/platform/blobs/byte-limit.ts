import { Transform, type TransformCallback } from 'node:stream';
import { BlobTooLargeError } from './errors.ts';

/** Passes bytes through, counting them, and fails with a BlobTooLargeError past `maxBytes`. */
export class ByteLimit extends Transform {
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number) {
    super();
    this.#maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#maxBytes) callback(new BlobTooLargeError(this.#maxBytes));
    else callback(null, chunk);
  }
}
