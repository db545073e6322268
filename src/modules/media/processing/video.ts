import type { Readable } from 'node:stream';
import { INPUT_ARGS, runTool, type FfmpegTools } from './ffmpeg.ts';
import { MediaProcessingError } from './errors.ts';
import { keepCleanCopy, type CleanFileRequest } from './remux.ts';
import { withTempFile } from './temp-file.ts';

export type VideoPoster = { data: Buffer; contentType: 'image/jpeg' };

/** Every field is undefined when ffmpeg is not installed. */
export type ProcessedVideo = {
  durationMs: number | undefined;
  /** As displayed: a phone video recorded upright reports portrait dimensions. */
  width: number | undefined;
  height: number | undefined;
  poster: VideoPoster | undefined;
};

const PROBE_TIMEOUT_MS = 15_000;
const POSTER_TIMEOUT_MS = 60_000;
const POSTER_MAX_WIDTH = 1280;
const MAX_POSTER_BYTES = 16 * 1024 * 1024;
const MAX_PROBE_BYTES = 1024 * 1024;

type ProbedVideo = { durationMs: number | undefined; width: number; height: number };

/**
 * Probes a video and grabs a poster frame, and with `clean` makes its clean copy last (so nothing
 * after it can fail). Pass `ffmpeg: undefined` when it is not installed: there is then no clean copy.
 * `'audio-only'` when the container holds sound and no picture: an MP4 recording whose track list
 * comes after its data (Android's MediaRecorder) looks like video until it is read whole.
 */
export async function processVideo(
  source: Readable,
  ffmpeg: FfmpegTools | undefined,
  clean?: CleanFileRequest,
): Promise<ProcessedVideo | 'audio-only'> {
  if (!ffmpeg) {
    source.destroy(); // nothing will read the bytes
    return { durationMs: undefined, width: undefined, height: undefined, poster: undefined };
  }
  return withTempFile(source, async (path, dir) => {
    const probed = await probe(ffmpeg.ffprobe, path);
    if (probed === 'audio-only') return probed;
    // A MediaRecorder WebM is written live: its header has no duration, so the packets are counted.
    const durationMs = probed.durationMs ?? (await measureDurationMs(ffmpeg.ffmpeg, path));
    const poster = await grabPoster(ffmpeg.ffmpeg, path, posterTimeSeconds(durationMs));
    if (clean !== undefined) await keepCleanCopy(ffmpeg.ffmpeg, path, dir, 'video', clean);
    return { ...probed, durationMs, poster };
  });
}

async function probe(ffprobe: string, path: string): Promise<ProbedVideo | 'audio-only'> {
  const args = [...INPUT_ARGS, '-print_format', 'json', '-show_streams', '-show_format', path];
  const output = await runTool(ffprobe, args, { timeoutMs: PROBE_TIMEOUT_MS, maxOutputBytes: MAX_PROBE_BYTES });
  return readProbe(JSON.parse(output.toString('utf8')) as ProbeOutput);
}

/** Reads every packet without decoding (`-c copy`) and takes the last timestamp ffmpeg reports. */
async function measureDurationMs(ffmpeg: string, path: string): Promise<number | undefined> {
  const args = [...INPUT_ARGS, '-nostdin', '-i', path, '-map', '0', '-c', 'copy', '-f', 'null', '-progress', 'pipe:1', '-nostats', '-'];
  const output = await runTool(ffmpeg, args, { timeoutMs: POSTER_TIMEOUT_MS, maxOutputBytes: MAX_PROBE_BYTES });
  const times = [...output.toString('utf8').matchAll(/^out_time_us=(\d+)$/gm)].map((match) => Number(match[1]));
  const last = times.at(-1);
  return last === undefined || last <= 0 ? undefined : Math.round(last / 1000);
}

type ProbeStream = {
  codec_type?: string;
  width?: number;
  height?: number;
  duration?: string;
  side_data_list?: { rotation?: number }[];
  tags?: { rotate?: string };
};
type ProbeOutput = { streams?: ProbeStream[]; format?: { duration?: string } };

function readProbe(output: ProbeOutput): ProbedVideo | 'audio-only' {
  const stream = output.streams?.find((candidate) => candidate.codec_type === 'video');
  if (stream === undefined && output.streams?.some((candidate) => candidate.codec_type === 'audio')) return 'audio-only';
  if (!stream?.width || !stream.height) throw new MediaProcessingError('video has no picture that ffprobe can read');
  const seconds = Number(output.format?.duration ?? stream.duration);
  const durationMs = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : undefined;
  const sideways = Math.abs(rotationOf(stream)) % 180 === 90;
  return { durationMs, width: sideways ? stream.height : stream.width, height: sideways ? stream.width : stream.height };
}

/** Phones record sideways and mark the rotation: a display matrix, or an older `rotate` tag. */
function rotationOf(stream: ProbeStream): number {
  const fromSideData = stream.side_data_list?.find((data) => data.rotation !== undefined)?.rotation;
  return Number(fromSideData ?? stream.tags?.rotate ?? 0) || 0;
}

/** A second in, to skip a black first frame, but never past the middle of a short clip. */
function posterTimeSeconds(durationMs: number | undefined): number {
  return durationMs === undefined ? 0 : Math.min(1, durationMs / 2000);
}

/** ffmpeg rotates the frame upright itself. */
async function grabPoster(ffmpeg: string, path: string, atSeconds: number): Promise<VideoPoster> {
  const args = [
    ...INPUT_ARGS, '-nostdin', '-ss', atSeconds.toFixed(3), '-i', path,
    '-frames:v', '1', '-vf', `scale='min(${POSTER_MAX_WIDTH},iw)':-2`,
    '-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '3', 'pipe:1',
  ];
  const data = await runTool(ffmpeg, args, { timeoutMs: POSTER_TIMEOUT_MS, maxOutputBytes: MAX_POSTER_BYTES });
  if (data.length === 0) throw new MediaProcessingError('video has no frame to make a poster from');
  return { data, contentType: 'image/jpeg' };
}
