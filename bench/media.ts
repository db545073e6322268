/**
 * The media suite: large uploads (raw body and tus) and the server's memory while they stream,
 * ranged reads of a recording, and image processing — each next to a bare baseline measured in the
 * same run, Plaza and baseline alternating over rounds.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { withCleanup } from './lib/cleanup.ts';
import { writeTestImages } from './lib/images.ts';
import { measureLoad, type LoadRequest, type Measurement } from './lib/load.ts';
import type { MediaSettings } from './lib/media-settings.ts';
import { childRunning, cpuSeconds, watchMemory, type MemoryGrowth } from './lib/proc.ts';
import { plazaServer, signUp } from './lib/plaza.ts';
import type { Profile } from './lib/profiles.ts';
import { withServer, type RunningServer, type ServerSpec } from './lib/servers.ts';
import type { Settings } from './lib/settings.ts';
import type { ScenarioRounds } from './lib/suite.ts';
import {
  expectStatus,
  GeneratedWav,
  getMedia,
  rawUpload,
  send,
  settled,
  tusUpload,
  TusUnavailable,
  type MediaJson,
} from './lib/upload.ts';

/** Ranged reads are held, like the memo routes, to this share of a bare static server on PostgreSQL. */
const RANGED_READS_TARGET_RATIO = 0.6;
const run = promisify(execFile);
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const BASELINE_SERVER = fileURLToPath(new URL('./baselines/media-server.ts', import.meta.url));
const IMAGES_BASELINE = fileURLToPath(new URL('./baselines/media-images.ts', import.meta.url));
/** Uploads that warm each server's JIT and file paths before anything is measured. */
const WARM_UP_UPLOAD_BYTES = 16 * MiB;
/** Where the ranged reads start: past the header, well inside the recording. */
const RANGE_START = 1 * MiB;
/** Processing of a huge WAV would compete for the cores with the next measurement; ffmpeg is left out. */
const NO_FFMPEG = '/nonexistent';

export type UploadSize = 'large' | 'small';
export type UploadWay = 'raw' | 'tus' | 'baseline';

/** One measured upload: time from the first byte sent to the stored file (and media id) coming back. */
export type UploadRun = {
  bytes: number;
  seconds: number;
  mibPerSecond: number;
  /** The server's resident memory while the upload streamed and, for Plaza, was processed. */
  memory: MemoryGrowth;
  /** CPU time the server process used while the upload streamed (its processing not included). */
  serverCpuSeconds: number;
  /** Plaza's media status once processing ended, with the failure if any. */
  outcome?: string;
  /** tus only: seconds the last PATCH took, which the server answers once the media item exists. */
  lastPatchSeconds?: number;
};

export type MediaResults = {
  settings: MediaSettings;
  /** Per way and size, one run per round, in round order. */
  uploads: Record<UploadWay, Record<UploadSize, UploadRun[]>>;
  rangedReads: ScenarioRounds;
  /** One run per round. */
  images: { plaza: ImageRun[]; sharp: ImageRun[]; jpegBytes: number };
  recordingOutcome: string;
  /** Why tus uploads were not measured, if they were not. */
  tusUnavailable?: string;
};

/** Images per second, and CPU seconds the processing process used per image. */
export type ImageRun = { perSecond: number; cpuSecondsPerImage: number };

type Seeded = { token: string; recordingId: string; recording: Buffer; recordingOutcome: string };
type Side = 'plaza' | 'baseline';

/** Plaza as the suite runs it: room for uploads of any size the suite makes, and no ffmpeg. */
function mediaPlaza(profile: Profile, settings: MediaSettings): ServerSpec {
  const plaza = plazaServer(profile);
  const largest = Math.max(4 * GiB, 2 * settings.largeUploadMiB * MiB);
  return {
    ...plaza,
    env: {
      ...plaza.env,
      MEDIA_MAX_AUDIO_BYTES: String(largest),
      UPLOAD_MAX_BYTES: String(largest),
      MEDIA_QUOTA_BYTES: String(1024 * GiB),
      FFMPEG_PATH: NO_FFMPEG,
      FFPROBE_PATH: NO_FFMPEG,
    },
  };
}

export async function runMediaSuite(profile: Profile, settings: Settings, media: MediaSettings): Promise<MediaResults> {
  const work = await mkdtemp(join(tmpdir(), 'plaza-bench-media-'));
  return withCleanup(
    () => rm(work, { recursive: true, force: true }),
    () => runInWorkDir(profile, settings, media, work),
  );
}

async function runInWorkDir(profile: Profile, settings: Settings, media: MediaSettings, work: string): Promise<MediaResults> {
  const imagesDir = join(work, 'images');
  await mkdir(imagesDir);
  log(profile, `media: generating ${media.images} JPEGs of ${media.imageWidth}×${media.imageHeight}`);
  const jpegBytes = await writeTestImages(imagesDir, media.images, media.imageWidth, media.imageHeight);
  const images = await Promise.all(
    (await readdir(imagesDir)).sort().map(async (name) => ({ name, bytes: await readFile(join(imagesDir, name)) })),
  );

  log(profile, 'media: seeding');
  const plaza = mediaPlaza(profile, media);
  const seeded = await withServer(plaza, (server) => seed(server.url, media));
  // The baseline serves the same bytes from a file on the filesystem Plaza stores its media on.
  const baselineDir = join(profile.env.DATA_DIR!, 'bench-baseline');
  await mkdir(baselineDir, { recursive: true });
  const recordingFile = join(baselineDir, 'recording.wav');
  await writeFile(recordingFile, seeded.recording);
  const baseline: ServerSpec = {
    name: 'media baseline',
    script: BASELINE_SERVER,
    env: { ...profile.env, BENCH_MEDIA_FILE: recordingFile },
  };

  const range = `bytes=${RANGE_START}-${RANGE_START + media.rangeKiB * 1024 - 1}`;
  const rangedName = `GET /v1/recordings/{id}/content (${media.rangeKiB} KiB Range)`;
  const requests: Record<Side, LoadRequest> = {
    plaza: {
      method: 'GET',
      path: `/v1/recordings/${seeded.recordingId}/content`,
      headers: { authorization: `Bearer ${seeded.token}`, range },
    },
    baseline: { method: 'GET', path: '/file', headers: { range } },
  };
  const expectedRange = seeded.recording.subarray(RANGE_START, RANGE_START + media.rangeKiB * 1024);

  const results: MediaResults = {
    settings: media,
    uploads: { raw: { large: [], small: [] }, tus: { large: [], small: [] }, baseline: { large: [], small: [] } },
    rangedReads: { scenario: rangedName, target: RANGED_READS_TARGET_RATIO, plaza: [], baseline: [] },
    images: { plaza: [], sharp: [], jpegBytes },
    recordingOutcome: seeded.recordingOutcome,
  };
  const turn: Turn = {
    profile,
    settings,
    media,
    results,
    token: seeded.token,
    requests,
    expectedRange,
    images,
    imagesDir,
    baselineDir,
    sizes: [
      ['large', new GeneratedWav(media.largeUploadMiB * MiB)],
      ['small', new GeneratedWav(media.smallUploadMiB * MiB)],
    ],
    tag: '',
  };
  for (let round = 1; round <= settings.rounds; round++) {
    // Swap who goes first each round, so a drift in the machine's load favours neither side.
    const sides: Side[] = round % 2 === 1 ? ['plaza', 'baseline'] : ['baseline', 'plaza'];
    turn.tag = `round ${round}/${settings.rounds}`;
    for (const side of sides) {
      if (side === 'plaza') await withServer(plaza, (server) => plazaTurn(turn, server, childRunning(plaza.script)));
      else await withServer(baseline, (server) => baselineTurn(turn, server, childRunning(baseline.script)));
    }
  }
  return results;
}

/** What both sides' turns work from, and where they put their measurements. */
type Turn = {
  profile: Profile;
  settings: Settings;
  media: MediaSettings;
  results: MediaResults;
  token: string;
  requests: Record<Side, LoadRequest>;
  expectedRange: Buffer;
  images: readonly Image[];
  imagesDir: string;
  baselineDir: string;
  sizes: [UploadSize, GeneratedWav][];
  tag: string;
};

/** Warm-up uploads, then each measured upload (raw and tus, large and small), ranged reads and images. */
async function plazaTurn(turn: Turn, server: RunningServer, pid: number): Promise<void> {
  const { profile, media, results, token, tag } = turn;
  const chunkBytes = media.tusChunkMiB * MiB;
  const warmUp = new GeneratedWav(WARM_UP_UPLOAD_BYTES);
  await settle(server.url, token, (await rawUpload(server.url, token, warmUp, 'warm-up.wav')).id);
  if (results.tusUnavailable === undefined) {
    try {
      await settle(server.url, token, (await tusUpload(server.url, token, warmUp, 'warm-up.wav', chunkBytes)).mediaId);
    } catch (error) {
      // Only a server that never had tus is measured without it: counts per round must match.
      if (!(error instanceof TusUnavailable) || results.uploads.raw.large.length > 0) throw error;
      results.tusUnavailable = error.message;
      log(profile, `media: tus uploads not measured: ${error.message}`);
    }
  }
  const ways = results.tusUnavailable === undefined ? (['raw', 'tus'] as const) : (['raw'] as const);
  for (const [size, wav] of turn.sizes) {
    for (const way of ways) {
      const fileName = `bench-${size}.wav`;
      const upload = async () => {
        if (way === 'raw') return { id: (await rawUpload(server.url, token, wav, fileName)).id };
        const { mediaId, lastPatchSeconds } = await tusUpload(server.url, token, wav, fileName, chunkBytes);
        return { id: mediaId, lastPatchSeconds };
      };
      const measured = await measureUpload(pid, wav, upload, (id) => settled(server.url, token, id));
      results.uploads[way][size].push(measured);
      log(profile, `${tag} plaza    upload ${way.padEnd(8)} ${describeUpload(measured)}`);
    }
  }
  const reads = await measureReads(server, turn.requests.plaza, turn.expectedRange, turn.settings);
  results.rangedReads.plaza.push(reads);
  log(profile, `${tag} plaza    ranged reads     ${describeLoad(reads)}`);
  const rate = await plazaImages(server.url, token, pid, turn.images, media);
  results.images.plaza.push(rate);
  log(profile, `${tag} plaza    images           ${describeImages(rate)}`);
}

/** The same, against the bare server; images go through sharp in a process of their own. */
async function baselineTurn(turn: Turn, server: RunningServer, pid: number): Promise<void> {
  const { profile, results, tag } = turn;
  await baselineUpload(server.url, new GeneratedWav(WARM_UP_UPLOAD_BYTES));
  for (const [size, wav] of turn.sizes) {
    const measured = await measureUpload(pid, wav, () => baselineUpload(server.url, wav));
    results.uploads.baseline[size].push(measured);
    log(profile, `${tag} baseline upload ${'bare'.padEnd(8)} ${describeUpload(measured)}`);
  }
  await rm(join(turn.baselineDir, 'uploads'), { recursive: true, force: true });
  const reads = await measureReads(server, turn.requests.baseline, turn.expectedRange, turn.settings);
  results.rangedReads.baseline.push(reads);
  log(profile, `${tag} baseline ranged reads     ${describeLoad(reads)}`);
  const rate = await sharpImages(turn.imagesDir, join(turn.baselineDir, 'images'), turn.media);
  results.images.sharp.push(rate);
  log(profile, `${tag} baseline images (sharp)   ${describeImages(rate)}`);
}

/** A user, and a recording of `recordingMiB` uploaded with `PUT /v1/recordings/{fileName}`. */
async function seed(plazaUrl: string, media: MediaSettings): Promise<Seeded> {
  const { accessToken: token } = await signUp(plazaUrl, 'media-uploader');
  const wav = new GeneratedWav(media.recordingMiB * MiB);
  const answer = await send(
    `${plazaUrl}/v1/recordings/bench-recording.wav`,
    'PUT',
    { authorization: `Bearer ${token}`, 'content-type': 'audio/wav', 'content-length': wav.totalBytes },
    { wav },
  );
  type Recording = { id: string; durationMs: number | null; waveform: number[] | null };
  const created = expectStatus<Recording>('PUT /v1/recordings/bench-recording.wav', answer, 201);
  const recordingOutcome = `answered 201 with durationMs ${created.durationMs}, waveform ${created.waveform === null ? 'null' : 'present'}`;
  return { token, recordingId: created.id, recording: wav.toBuffer(), recordingOutcome };
}

/**
 * Times one upload with the server's memory watched, after flushing earlier writes to the disk so
 * neither side pays for the other's. For Plaza, waits for processing to end (still watching memory).
 */
async function measureUpload(
  pid: number,
  wav: GeneratedWav,
  upload: () => Promise<{ id?: string; lastPatchSeconds?: number }>,
  processed?: (id: string) => Promise<MediaJson>,
): Promise<UploadRun> {
  await run('sync');
  let seconds = 0;
  let serverCpuSeconds = 0;
  let outcome: string | undefined;
  let lastPatchSeconds: number | undefined;
  const { result: _, ...memory } = await watchMemory(pid, async () => {
    const cpuBefore = cpuSeconds(pid);
    const started = performance.now();
    const { id, ...uploaded } = await upload();
    lastPatchSeconds = uploaded.lastPatchSeconds;
    seconds = (performance.now() - started) / 1000;
    serverCpuSeconds = cpuSeconds(pid) - cpuBefore;
    if (processed !== undefined && id !== undefined) outcome = describeOutcome(await processed(id));
  });
  const mibPerSecond = wav.totalBytes / MiB / seconds;
  return {
    bytes: wav.totalBytes,
    seconds,
    mibPerSecond,
    memory,
    serverCpuSeconds,
    ...(outcome !== undefined && { outcome }),
    ...(lastPatchSeconds !== undefined && { lastPatchSeconds }),
  };
}

async function baselineUpload(baseUrl: string, wav: GeneratedWav): Promise<{ id?: string }> {
  const answer = await send(`${baseUrl}/upload`, 'POST', { 'content-type': 'audio/wav', 'content-length': wav.totalBytes }, { wav });
  const { size } = expectStatus<{ size: number }>('baseline POST /upload', answer, 202);
  if (size !== wav.totalBytes) throw new Error(`the baseline stored ${size} of ${wav.totalBytes} bytes`);
  return {};
}

async function settle(baseUrl: string, token: string, id: string): Promise<void> {
  await settled(baseUrl, token, id);
}

function describeOutcome(media: MediaJson): string {
  return media.status === 'failed' ? `failed (${media.failure ?? 'no reason given'})` : media.status;
}

/** Checks one ranged answer is the right bytes, then warms up and measures like the other suites. */
async function measureReads(server: RunningServer, request: LoadRequest, expected: Buffer, settings: Settings): Promise<Measurement> {
  const response = await fetch(`${server.url}${request.path}`, { headers: request.headers ?? {} });
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 206 || !body.equals(expected)) {
    throw new Error(
      `GET ${request.path} with ${request.headers?.range} answered ${response.status} with ${body.length} bytes ` +
        `(${body.equals(expected) ? 'the right ones' : 'not the expected ones'}); expected 206 and ${expected.length} bytes`,
    );
  }
  await measureLoad(server.url, request, { connections: settings.connections, seconds: settings.warmupSeconds });
  return measureLoad(server.url, request, settings);
}

type Image = { name: string; bytes: Buffer };

/**
 * Uploads every image (a few at a time) with raw `POST /v1/media`, and waits until all are ready:
 * images per second from the first upload to the last one ready. One image is processed first, untimed,
 * as a warm-up.
 */
async function plazaImages(
  baseUrl: string,
  token: string,
  pid: number,
  images: readonly Image[],
  media: MediaSettings,
): Promise<ImageRun> {
  const upload = async ({ name, bytes }: Image) => {
    const response = await fetch(`${baseUrl}/v1/media?fileName=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' },
      body: bytes,
    });
    const text = await response.text();
    if (response.status !== 202 && response.status !== 201) {
      throw new Error(`POST /v1/media (${name}) answered ${response.status}: ${text.slice(0, 500)}`);
    }
    return (JSON.parse(text) as MediaJson).id;
  };
  await allReady(baseUrl, token, [await upload(images[0]!)]);
  const cpuBefore = cpuSeconds(pid);
  const started = performance.now();
  const ids: string[] = [];
  let next = 0;
  const uploader = async () => {
    while (next < images.length) ids.push(await upload(images[next++]!));
  };
  await Promise.all(Array.from({ length: media.imageUploadConcurrency }, uploader));
  await allReady(baseUrl, token, ids);
  const perSecond = images.length / ((performance.now() - started) / 1000);
  return { perSecond, cpuSecondsPerImage: (cpuSeconds(pid) - cpuBefore) / images.length };
}

/**
 * Waits until every media is ready, asking about one at a time (the first not yet seen ready), so
 * that polling adds a request every 50 ms at most while processing runs.
 */
async function allReady(baseUrl: string, token: string, ids: readonly string[]): Promise<void> {
  const deadline = Date.now() + 600_000;
  const pending = [...ids];
  while (pending.length > 0) {
    const media = await getMedia(baseUrl, token, pending[0]!);
    if (media.status === 'failed') throw new Error(`image ${media.id} failed processing: ${media.failure}`);
    if (media.status === 'ready') {
      pending.shift();
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${pending.length} images still processing after 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The same images through sharp alone, in a process of its own, as many at a time as Plaza's jobs run. */
async function sharpImages(imagesDir: string, outDir: string, media: MediaSettings): Promise<ImageRun> {
  const count = media.images;
  const { stdout } = await run(process.execPath, [IMAGES_BASELINE, imagesDir, outDir, String(media.imageJobConcurrency)]);
  await rm(outDir, { recursive: true, force: true });
  const { seconds, cpuSeconds: cpu, images } = JSON.parse(stdout) as { seconds: number; cpuSeconds: number; images: number };
  if (images !== count) throw new Error(`the sharp baseline processed ${images} images, expected ${count}`);
  return { perSecond: images / seconds, cpuSecondsPerImage: cpu / images };
}

function describeUpload(measured: UploadRun): string {
  const size = `${Math.round(measured.bytes / MiB)} MiB`.padStart(9);
  const growth = (measured.memory.growthBytes / MiB).toFixed(1);
  const outcome = measured.outcome === undefined ? '' : `  → ${measured.outcome}`;
  const last = measured.lastPatchSeconds === undefined ? '' : `  (last PATCH ${measured.lastPatchSeconds.toFixed(1)} s of ${measured.seconds.toFixed(1)} s)`;
  const cpu = (measured.serverCpuSeconds / (measured.bytes / GiB)).toFixed(2);
  return `${size} ${measured.mibPerSecond.toFixed(0).padStart(5)} MiB/s  server CPU ${cpu} s/GiB  RSS +${growth} MiB${outcome}${last}`;
}

function describeImages(run: ImageRun): string {
  return `${run.perSecond.toFixed(2)} images/s  ${(run.cpuSecondsPerImage * 1000).toFixed(0)} ms CPU per image`;
}

function describeLoad(measured: Measurement): string {
  return `${Math.round(measured.requestsPerSecond).toString().padStart(6)} req/s  p50 ${measured.p50Ms.toFixed(2)} ms  p99 ${measured.p99Ms.toFixed(2)} ms`;
}

function log(profile: Profile, message: string): void {
  console.log(`[${profile.kind}] ${message}`);
}
