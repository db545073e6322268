/**
 * The media itself cannot be processed (corrupt, truncated, too large, or too slow to decode).
 * A job marks such media `failed` rather than retrying; any other error is worth a retry.
 */
export class MediaProcessingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MediaProcessingError';
  }
}

/** An image with more pixels than the caller allows, refused from its header before any is decoded. */
export class TooManyPixelsError extends MediaProcessingError {
  readonly maxPixels: number;

  constructor(maxPixels: number) {
    super(`image has more than ${maxPixels} pixels`);
    this.name = 'TooManyPixelsError';
    this.maxPixels = maxPixels;
  }
}
