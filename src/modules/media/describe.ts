import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { BlobStore } from '#platform/blobs/types.ts';
import { MediaProcessingError } from './processing/errors.ts';
import type { FfmpegTools } from './processing/ffmpeg.ts';
import { processAudio } from './processing/audio.ts';
import { cleanImage, processImage, type ImageVariant, type ImageVariantName } from './processing/image.ts';
import { cleanAudioOrVideo, type CleanFileRequest } from './processing/remux.ts';
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
 * Takes the clean copy of an upload — what everyone but its owner is served: upright, without EXIF,
 * GPS, camera or creation metadata — while its bytes can still be read.
 */
export type KeepCleanCopy = (copy: { body: Readable; size: number; contentType: string }) => Promise<void>;

/**
 * Reads an upload of `kind` through: images get their variants, dimensions and blurhash; audio its
 * duration and waveform; video its duration, dimensions and — from a poster frame — image variants.
 * With `keepClean`, the clean copy goes to it (audio and video need ffmpeg for one: without it there
 * is none). A "video" with sound and no picture is described as audio (`retyped`). `open` gives the
 * upload's bytes, each time it is called. Throws MediaProcessingError for a file that cannot be decoded.
 */
export async function describeMedia(
  kind: MediaKind,
  contentType: string,
  open: () => Promise<Readable>,
  ffmpeg: FfmpegTools | undefined,
  keepClean?: KeepCleanCopy,
): Promise<Description> {
  const cleanFile = keepClean && fileKeeper(contentType, keepClean);
  switch (kind) {
    case 'image': {
      const { width, height, blurhash, variants, clean } = await processImage(await open(), keepClean && { cleanAs: contentType });
      if (keepClean !== undefined && clean !== undefined) await keepClean({ body: Readable.from([clean.data]), size: clean.data.length, contentType });
      return { fields: { width, height, blurhash }, variants };
    }
    case 'audio': {
      const { durationMs, waveform } = await processAudio(await open(), ffmpeg, cleanFile);
      return { fields: { durationMs, waveform }, variants: {} };
    }
    case 'video': {
      const video = await processVideo(await open(), ffmpeg, cleanFile);
      if (video === 'audio-only') {
        const retyped = { kind: 'audio' as const, contentType: contentType === 'video/webm' ? 'audio/webm' : 'audio/mp4' };
        const audio = await describeMedia('audio', retyped.contentType, open, ffmpeg, keepClean);
        return { ...audio, retyped };
      }
      const { durationMs, width, height, poster } = video;
      if (poster === undefined) return { fields: { durationMs, width, height }, variants: {} };
      const still = await processImage(Readable.from([poster.data]));
      return { fields: { durationMs, width, height, blurhash: still.blurhash }, variants: still.variants };
    }
  }
}

/**
 * Makes only the clean copy of an upload already described, for items stored before clean copies
 * existed. Audio and video need ffmpeg for it: without it, `keepClean` is not called.
 */
export async function makeCleanCopy(
  kind: MediaKind,
  contentType: string,
  open: () => Promise<Readable>,
  ffmpeg: FfmpegTools | undefined,
  keepClean: KeepCleanCopy,
): Promise<void> {
  if (kind === 'image') {
    const clean = await cleanImage(await open(), contentType);
    await keepClean({ body: Readable.from([clean.data]), size: clean.data.length, contentType });
  } else if (ffmpeg !== undefined) {
    await cleanAudioOrVideo(await open(), ffmpeg.ffmpeg, kind, fileKeeper(contentType, keepClean));
  }
}

/** Hands a finished clean file to `keepClean` as a stream of known size. */
function fileKeeper(contentType: string, keepClean: KeepCleanCopy): CleanFileRequest {
  return {
    contentType,
    async keep(path) {
      const { size } = await stat(path);
      await keepClean({ body: createReadStream(path), size, contentType });
    },
  };
}

/** Opens the stored bytes under `key`, each time it is called. */
export function storedBytes(blobs: BlobStore, key: string): () => Promise<Readable> {
  return async () => {
    const blob = await blobs.get(key);
    if (blob === undefined) throw new MediaProcessingError('the uploaded bytes are missing');
    return blob.body;
  };
}
