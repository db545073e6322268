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
