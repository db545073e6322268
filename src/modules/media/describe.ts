import { Readable } from 'node:stream';
import type { FfmpegTools } from './processing/ffmpeg.ts';
import { processAudio } from './processing/audio.ts';
import { processImage, type ImageVariant, type ImageVariantName } from './processing/image.ts';
import { processVideo } from './processing/video.ts';
import type { MediaKind } from './sniff.ts';
import type { ProcessedFields } from './store.ts';

/** What processing learnt about an upload, and the variant files it made (not yet stored). */
export type Description = { fields: Omit<ProcessedFields, 'variants'>; variants: Partial<Record<ImageVariantName, ImageVariant>> };

/**
 * Reads an upload of `kind` through: images get their variants, dimensions and blurhash; audio its
 * duration and waveform; video its duration, dimensions and — from a poster frame — image variants.
 * Throws MediaProcessingError for a file that cannot be decoded.
 */
export async function describeMedia(kind: MediaKind, source: Readable, ffmpeg: FfmpegTools | undefined): Promise<Description> {
  switch (kind) {
    case 'image': {
      const { width, height, blurhash, variants } = await processImage(source);
      return { fields: { width, height, blurhash }, variants };
    }
    case 'audio': {
      const { durationMs, waveform } = await processAudio(source, ffmpeg);
      return { fields: { durationMs, waveform }, variants: {} };
    }
    case 'video': {
      const { durationMs, width, height, poster } = await processVideo(source, ffmpeg);
      if (poster === undefined) return { fields: { durationMs, width, height }, variants: {} };
      const still = await processImage(Readable.from([poster.data]));
      return { fields: { durationMs, width, height, blurhash: still.blurhash }, variants: still.variants };
    }
  }
}
