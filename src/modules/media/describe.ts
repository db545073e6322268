import { Readable } from 'node:stream';
import type { BlobStore } from '#platform/blobs/types.ts';
import { MediaProcessingError } from './processing/errors.ts';
import type { FfmpegTools } from './processing/ffmpeg.ts';
import { processAudio } from './processing/audio.ts';
import { processImage, type ImageVariant, type ImageVariantName } from './processing/image.ts';
import { processVideo } from './processing/video.ts';
import type { MediaKind } from './sniff.ts';
import type { ProcessedFields } from './store.ts';

/** What processing learnt about an upload, and the variant files it made (not yet stored). */
export type Description = {
  fields: Omit<ProcessedFields, 'variants'>;
  variants: Partial<Record<ImageVariantName, ImageVariant>>;
  /** Set when reading the whole file showed it to be another kind than its head suggested. */
  retyped?: { kind: MediaKind; contentType: string };
};

/**
 * Reads an upload of `kind` through: images get their variants, dimensions and blurhash; audio its
 * duration and waveform; video its duration, dimensions and — from a poster frame — image variants.
 * A "video" with sound and no picture is described as audio (`retyped`). `open` gives the upload's
 * bytes, each time it is called. Throws MediaProcessingError for a file that cannot be decoded.
 */
export async function describeMedia(
  kind: MediaKind,
  contentType: string,
  open: () => Promise<Readable>,
  ffmpeg: FfmpegTools | undefined,
): Promise<Description> {
  switch (kind) {
    case 'image': {
      const { width, height, blurhash, variants } = await processImage(await open());
      return { fields: { width, height, blurhash }, variants };
    }
    case 'audio': {
      const { durationMs, waveform } = await processAudio(await open(), ffmpeg);
      return { fields: { durationMs, waveform }, variants: {} };
    }
    case 'video': {
      const video = await processVideo(await open(), ffmpeg);
      if (video === 'audio-only') {
        const audio = await describeMedia('audio', contentType, open, ffmpeg);
        return { ...audio, retyped: { kind: 'audio', contentType: contentType === 'video/webm' ? 'audio/webm' : 'audio/mp4' } };
      }
      const { durationMs, width, height, poster } = video;
      if (poster === undefined) return { fields: { durationMs, width, height }, variants: {} };
      const still = await processImage(Readable.from([poster.data]));
      return { fields: { durationMs, width, height, blurhash: still.blurhash }, variants: still.variants };
    }
  }
}

/** Opens the stored bytes under `key`, each time it is called. */
export function storedBytes(blobs: BlobStore, key: string): () => Promise<Readable> {
  return async () => {
    const blob = await blobs.get(key);
    if (blob === undefined) throw new MediaProcessingError('the uploaded bytes are missing');
    return blob.body;
  };
}
