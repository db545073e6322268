import type { ImageRun, MediaResults, UploadRun, UploadSize, UploadWay } from '../media.ts';
import type { MediaSettings } from './media-settings.ts';
import { median } from './stats.ts';
import type { SummaryRow } from './summary.ts';

/** Plaza should keep at least this share of the bare server's upload throughput. */
export const UPLOAD_TARGET_RATIO = 0.7;
/** Plaza's resident memory should grow less than this during an upload, whatever its size. */
export const MEMORY_TARGET_MIB = 64;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** What the media suite measures and against what: said once, above the profiles' sections. */
export function renderMediaIntro(settings: MediaSettings): string[] {
  return [
    `**Uploads**: a generated 16-bit PCM WAV (44-byte RIFF header declaring its size, then pseudo-random bytes ` +
      `made while sending) of ${settings.largeUploadMiB} MiB and ${settings.smallUploadMiB} MiB, as a raw ` +
      `\`POST /v1/media\` and through tus (\`POST /v1/uploads\`, ${settings.tusChunkMiB} MiB \`PATCH\`es, then ` +
      `\`GET /v1/uploads/{id}\` for the media id), timed from the first byte sent until the media id is known. ` +
      `\`sync\` runs before each upload. Baseline: a bare \`node:http\` server streaming the same body into a file ` +
      `on the same filesystem (under \`DATA_DIR\`) and flushing it before it answers, as Plaza's local store does. ` +
      `Plaza runs with \`FFMPEG_PATH=/nonexistent\` and \`FFPROBE_PATH=/nonexistent\`: processing the WAV afterwards ` +
      `skips ffmpeg (no waveform) and does not compete for the CPU. Server CPU is the process's user + system time ` +
      `while the upload streamed.`,
    '',
    `**Memory**: the server process's peak resident memory while an upload streamed and, for Plaza, was processed ` +
      `(VmHWM after resetting it through \`/proc/<pid>/clear_refs\`, and VmRSS sampled every 50 ms), minus its ` +
      `resident memory just before.`,
    '',
    `**Ranged reads** (a row in each profile's table above): a WAV recording of ${settings.recordingMiB} MiB uploaded ` +
      `with \`PUT /v1/recordings/{fileName}\`, then \`GET /v1/recordings/{id}/content\` with a fixed ` +
      `${settings.rangeKiB} KiB \`Range\` (206, bytes checked once). Baseline: the same bare \`node:http\` server ` +
      `serving the same bytes from a file under \`DATA_DIR\` with \`fs.createReadStream\` and \`range-parser\`.`,
    '',
    `**Images**: ${settings.images} distinct ${settings.imageWidth}×${settings.imageHeight} JPEGs (half with EXIF ` +
      `orientation 6) uploaded with raw \`POST /v1/media\`, ${settings.imageUploadConcurrency} at a time, timed from ` +
      `the first upload until \`GET /v1/media/{id}\` shows the last one \`ready\` (one image is processed first, ` +
      `untimed). Baseline: sharp alone, in a process of its own, reading each file and making the same three WebP ` +
      `variants (160×160 cover, 480 wide, within 1600×1600; quality 80), 4×3 blurhash of a 32×32 RGBA copy and the ` +
      `clean copy others are served (upright JPEG, quality 90, colour profile only), ` +
      `${settings.imageJobConcurrency} images at a time: as many as Plaza's processing jobs run at once. Both keep ` +
      `sharp's defaults (on glibc without jemalloc, one libvips thread per pipeline; libuv's 4 threads) and share the ` +
      `machine's cores with the bench process.`,
  ];
}

/** The media suite's part of the report for one profile, as markdown lines. */
export function renderMediaSection(title: string, results: MediaResults): string[] {
  const { settings } = results;
  const sizes: [UploadSize, number][] = [
    ['large', settings.largeUploadMiB],
    ['small', settings.smallUploadMiB],
  ];
  const ways: [Exclude<UploadWay, 'baseline'>, string][] = [
    ['raw', 'raw `POST /v1/media`'],
    ['tus', 'tus `/v1/uploads`'],
  ];
  const lines = [
    `### ${title}`,
    '',
    '| upload | size | Plaza MiB/s | baseline MiB/s | ratio | ratio per round | server CPU s/GiB, Plaza / baseline |',
    '|---|--:|--:|--:|--:|--:|--:|',
  ];
  for (const [size, mib] of sizes) {
    for (const [way, label] of ways) {
      const plaza = results.uploads[way][size];
      const baseline = results.uploads.baseline[size];
      if (plaza.length === 0) {
        lines.push(`| ${label} | ${mib} MiB | not measured | ${mibs(medianRate(baseline))} | – | – | – / ${cpuPerGiB(baseline)} |`);
        continue;
      }
      const ratio = medianRate(plaza) / medianRate(baseline);
      const perRound = plaza.map((run, round) => (run.mibPerSecond / baseline[round]!.mibPerSecond).toFixed(2));
      lines.push(
        `| ${label} | ${mib} MiB | ${mibs(medianRate(plaza))} | ${mibs(medianRate(baseline))} | ${ratio.toFixed(2)} | ` +
          `${perRound.join(' ')} | ${cpuPerGiB(plaza)} / ${cpuPerGiB(baseline)} |`,
      );
    }
  }
  lines.push('', uploadVerdict(results));
  const tusLarge = results.uploads.tus.large;
  if (tusLarge.length > 0) {
    const share = median(tusLarge.map((run) => (run.lastPatchSeconds ?? 0) / run.seconds));
    lines.push(
      '',
      `The last tus \`PATCH\` (${settings.tusChunkMiB} MiB of ${settings.largeUploadMiB}) is answered once the media ` +
        `item exists; it took ${(share * 100).toFixed(0)}% of the ${settings.largeUploadMiB} MiB upload's time (median).`,
    );
  }
  if (results.tusUnavailable !== undefined) lines.push('', `tus uploads not measured: ${results.tusUnavailable}.`);

  lines.push(
    '',
    '| memory | size | Plaza RSS before, MiB | Plaza growth, median MiB | Plaza growth, max MiB | baseline growth, median MiB |',
    '|---|--:|--:|--:|--:|--:|',
  );
  for (const [size, mib] of sizes) {
    for (const [way, label] of ways) {
      const runs = results.uploads[way][size];
      if (runs.length === 0) continue;
      const growth = runs.map((run) => run.memory.growthBytes);
      const baselineGrowth = median(results.uploads.baseline[size].map((run) => run.memory.growthBytes));
      lines.push(
        `| ${label} | ${mib} MiB | ${inMiB(median(runs.map((run) => run.memory.beforeBytes)))} | ` +
          `${inMiB(median(growth))} | ${inMiB(Math.max(...growth))} | ${inMiB(baselineGrowth)} |`,
      );
    }
  }
  lines.push('', memoryVerdict(results), '', `Processing of the uploaded WAVs ended: ${outcomes(results)}.`);

  const plaza = results.images.plaza.map((run) => run.perSecond);
  const sharp = results.images.sharp.map((run) => run.perSecond);
  const cpuPerImage = (runs: readonly ImageRun[]) => (median(runs.map((run) => run.cpuSecondsPerImage)) * 1000).toFixed(0);
  lines.push(
    '',
    '| images | Plaza images/s | sharp images/s | ratio | ratio per round | CPU ms per image, Plaza / sharp process |',
    '|---|--:|--:|--:|--:|--:|',
    `| ${settings.images} × ${inMiB(results.images.jpegBytes / settings.images)} MiB JPEG → \`ready\` | ` +
      `${median(plaza).toFixed(2)} | ${median(sharp).toFixed(2)} | ${(median(plaza) / median(sharp)).toFixed(2)} | ` +
      `${plaza.map((rate, round) => (rate / sharp[round]!).toFixed(2)).join(' ')} | ` +
      `${cpuPerImage(results.images.plaza)} / ${cpuPerImage(results.images.sharp)} |`,
    '',
    `The recording for the ranged reads: ${results.recordingOutcome}.`,
  );
  return lines;
}

/** The uploads, their memory and the images, for the report's summary (the ranged reads come as a scenario row). */
export function mediaSummaryRows(title: string, results: MediaResults): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const row = (what: string, plaza: string, extra: Partial<SummaryRow> = {}) => rows.push({ profile: title, suite: 'media', what, plaza, ...extra });
  const baseline = medianRate(results.uploads.baseline.large);
  for (const way of ['raw', 'tus'] as const) {
    const runs = results.uploads[way].large;
    if (runs.length === 0) continue;
    const ratio = medianRate(runs) / baseline;
    row(`${way} upload, ${results.settings.largeUploadMiB} MiB`, `${mibs(medianRate(runs))} MiB/s`, {
      ratio,
      target: `ratio ≥ ${UPLOAD_TARGET_RATIO}`,
      met: ratio >= UPLOAD_TARGET_RATIO,
    });
  }
  for (const way of ['raw', 'tus'] as const) {
    const growth = (['small', 'large'] as const).flatMap((size) => results.uploads[way][size].map((run) => run.memory.growthBytes));
    if (growth.length === 0) continue;
    const worst = Math.max(...growth);
    row(`${way} upload, peak memory growth (largest)`, `${inMiB(worst)} MiB`, { target: `< ${MEMORY_TARGET_MIB} MiB`, met: worst < MEMORY_TARGET_MIB * MiB });
  }
  const plaza = median(results.images.plaza.map((run) => run.perSecond));
  const sharp = median(results.images.sharp.map((run) => run.perSecond));
  row(`${results.settings.images} JPEGs processed`, `${plaza.toFixed(2)} images/s`, { ratio: plaza / sharp });
  return rows;
}

/** Median CPU seconds the server process spent per GiB received. */
function cpuPerGiB(runs: readonly UploadRun[]): string {
  return median(runs.map((run) => run.serverCpuSeconds / (run.bytes / GiB))).toFixed(2);
}

function medianRate(runs: readonly UploadRun[]): number {
  return median(runs.map((run) => run.mibPerSecond));
}

function uploadVerdict(results: MediaResults): string {
  const target = `Target (upload throughput ratio ≥ ${UPLOAD_TARGET_RATIO} at ${results.settings.largeUploadMiB} MiB)`;
  const baseline = medianRate(results.uploads.baseline.large);
  const measured = (['raw', 'tus'] as const).filter((way) => results.uploads[way].large.length > 0);
  const missed = measured
    .map((way) => ({ way, ratio: medianRate(results.uploads[way].large) / baseline }))
    .filter(({ ratio }) => ratio < UPLOAD_TARGET_RATIO);
  if (missed.length === 0) return `${target}: met by ${measured.join(' and ')} uploads.`;
  return `${target}: **not met** by ${missed.map(({ way, ratio }) => `${way} (${ratio.toFixed(2)})`).join(', ')}.`;
}

function memoryVerdict(results: MediaResults): string {
  const target = `Target (Plaza's peak memory growth < ${MEMORY_TARGET_MIB} MiB, whatever the file size)`;
  const missed: string[] = [];
  for (const way of ['raw', 'tus'] as const) {
    for (const size of ['small', 'large'] as const) {
      if (results.uploads[way][size].length === 0) continue;
      const worst = Math.max(...results.uploads[way][size].map((run) => run.memory.growthBytes));
      if (worst >= MEMORY_TARGET_MIB * MiB) missed.push(`${way} ${sizeOf(results, size)} MiB (up to ${inMiB(worst)} MiB)`);
    }
  }
  return missed.length === 0 ? `${target}: met in every round.` : `${target}: **not met** by ${missed.join(', ')}.`;
}

function outcomes(results: MediaResults): string {
  const seen = new Map<string, number>();
  for (const way of ['raw', 'tus'] as const) {
    for (const size of ['small', 'large'] as const) {
      for (const run of results.uploads[way][size]) seen.set(run.outcome ?? 'unknown', (seen.get(run.outcome ?? 'unknown') ?? 0) + 1);
    }
  }
  return [...seen].map(([outcome, count]) => `${count}× ${outcome}`).join(', ');
}

function sizeOf(results: MediaResults, size: UploadSize): number {
  return size === 'large' ? results.settings.largeUploadMiB : results.settings.smallUploadMiB;
}

function mibs(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function inMiB(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}
