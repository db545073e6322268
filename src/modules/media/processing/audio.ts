import type { Readable } from 'node:stream';
import { INPUT_ARGS, runTool, type FfmpegTools } from './ffmpeg.ts';
import { MediaProcessingError } from './errors.ts';
import { keepCleanCopy, type CleanFileRequest } from './remux.ts';
import { withTempFile } from './temp-file.ts';
import { PeakCollector } from './waveform.ts';

export type ProcessedAudio = {
  /** Undefined only when neither the container says it nor ffmpeg is there to decode it. */
  durationMs: number | undefined;
  /** WAVEFORM_POINTS peaks in 0..1; undefined without ffmpeg. */
  waveform: number[] | undefined;
};

const DECODE_SAMPLE_RATE = 8000;
const DECODE_TIMEOUT_MS = 120_000;

/**
 * Reads an audio file's duration (from its headers with music-metadata, else by decoding it) and,
 * with ffmpeg, its waveform, and with `clean` makes its clean copy (without ID3 or other tags, nor
 * cover art) last. Pass `ffmpeg: undefined` when it is not installed: there is then no clean copy.
 */
export async function processAudio(source: Readable, ffmpeg: FfmpegTools | undefined, clean?: CleanFileRequest): Promise<ProcessedAudio> {
  return withTempFile(source, async (path, dir) => {
    // Headers music-metadata cannot read (a browser's live WebM, whose clusters have no size) are
    // no reason to refuse audio that ffmpeg decodes: then the decoded length is the duration.
    const declaredMs = await declaredDurationMs(path).catch((error: unknown) => {
      if (!ffmpeg) throw error;
      return undefined;
    });
    if (!ffmpeg) return { durationMs: declaredMs, waveform: undefined };
    const peaks = await decodePeaks(ffmpeg.ffmpeg, path);
    if (peaks.sampleCount === 0) throw new MediaProcessingError('audio has no decodable samples');
    const decodedMs = Math.round((peaks.sampleCount * 1000) / DECODE_SAMPLE_RATE);
    if (clean !== undefined) await keepCleanCopy(ffmpeg.ffmpeg, path, dir, 'audio', clean);
    return { durationMs: declaredMs ?? decodedMs, waveform: peaks.peaks() };
  });
}

/** Undefined when the headers do not say (a MediaRecorder WebM, for one); rejects on unreadable files. */
async function declaredDurationMs(path: string): Promise<number | undefined> {
  // Loaded at the first recording processed: 40 modules a start needs not wait for.
  const { parseFile } = await import('music-metadata');
  try {
    const { format } = await parseFile(path, { duration: true, skipCovers: true });
    return format.duration === undefined || !Number.isFinite(format.duration) ? undefined : Math.round(format.duration * 1000);
  } catch (error) {
    throw new MediaProcessingError(`audio could not be read: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** Decodes to mono 8 kHz PCM and folds it into peaks as it streams, never holding the whole decode. */
async function decodePeaks(ffmpeg: string, path: string): Promise<PeakCollector> {
  const peaks = new PeakCollector();
  const args = [...INPUT_ARGS, '-nostdin', '-i', path, '-vn', '-ac', '1', '-ar', String(DECODE_SAMPLE_RATE), '-f', 's16le', 'pipe:1'];
  await runTool(ffmpeg, args, { timeoutMs: DECODE_TIMEOUT_MS, onStdout: (chunk) => peaks.add(chunk) });
  return peaks;
}
