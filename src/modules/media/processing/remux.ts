import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { INPUT_ARGS, runTool } from './ffmpeg.ts';
import { MediaProcessingError } from './errors.ts';
import { withTempFile } from './temp-file.ts';

/**
 * Asks for the clean copy of an audio or video upload: `keep` receives the path of a file of type
 * `contentType`, which is removed once `keep` resolves.
 */
export type CleanFileRequest = { contentType: string; keep: (path: string) => Promise<void> };

/** ffmpeg's muxer for each type Plaza keeps: a clean copy stays in the upload's own container. */
const MUXERS: Record<string, string> = {
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
  'video/webm': 'webm',
  'audio/mpeg': 'mp3',
  'audio/aac': 'adts',
  'audio/mp4': 'mp4',
  'audio/ogg': 'ogg',
  'audio/webm': 'webm',
  'audio/wav': 'wav',
  'audio/flac': 'flac',
};

/** Copying streams reads and writes the file once, without decoding: minutes for the largest uploads. */
const REMUX_TIMEOUT_MS = 10 * 60_000;

/**
 * Writes the clean copy of the audio or video file at `input` into `dir` and hands it to
 * `request.keep`: the same streams, copied without re-encoding (so nothing is lost and a sideways
 * phone video keeps its display rotation, which is stream side data, not a tag), without the
 * container's and streams' metadata (title, location, creation time, camera make and model, Apple's
 * `com.apple.quicktime.*` keys), chapters, cover art, or data and subtitle tracks (phones record
 * location into timed metadata tracks).
 */
export async function keepCleanCopy(ffmpeg: string, input: string, dir: string, streams: 'audio' | 'video', request: CleanFileRequest): Promise<void> {
  const muxer = MUXERS[request.contentType];
  if (muxer === undefined) throw new MediaProcessingError(`no clean copy can be written as ${request.contentType}`);
  const output = join(dir, 'clean');
  // `V`: video that is not a cover picture. Audio tracks come along with video, and are optional there.
  const maps = streams === 'video' ? ['-map', '0:V', '-map', '0:a?'] : ['-map', '0:a'];
  const args = [
    ...INPUT_ARGS, '-nostdin', '-i', input, ...maps,
    '-map_metadata', '-1', '-map_metadata:s', '-1', '-map_chapters', '-1',
    '-c', 'copy', '-f', muxer, output,
  ];
  await runTool(ffmpeg, args, { timeoutMs: REMUX_TIMEOUT_MS });
  await request.keep(output);
}

/** Only the clean copy of an audio or video upload (for items stored before clean copies existed). */
export async function cleanAudioOrVideo(source: Readable, ffmpeg: string, streams: 'audio' | 'video', request: CleanFileRequest): Promise<void> {
  await withTempFile(source, (path, dir) => keepCleanCopy(ffmpeg, path, dir, streams, request));
}
