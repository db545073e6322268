/** The media suite's own knobs; durations, rounds and connections come from settings.ts. */
export type MediaSettings = Readonly<{
  /** Size of the large upload, whose throughput is compared with the baseline's. */
  largeUploadMiB: number;
  /** Size of the small upload, to show the server's memory does not grow with the file. */
  smallUploadMiB: number;
  /** Bytes per tus PATCH request. */
  tusChunkMiB: number;
  /** Distinct JPEGs processed per side per round. */
  images: number;
  imageWidth: number;
  imageHeight: number;
  /** Image uploads in flight at once towards Plaza. */
  imageUploadConcurrency: number;
  /** Images the sharp baseline processes at once: PROCESSING_CONCURRENCY in src/modules/media/jobs.ts. */
  imageJobConcurrency: number;
  /** Size of the recording served to the ranged-read load. */
  recordingMiB: number;
  /** Bytes asked for by each ranged read. */
  rangeKiB: number;
}>;

export function readMediaSettings(env: NodeJS.ProcessEnv = process.env): MediaSettings {
  return {
    largeUploadMiB: positiveInteger(env, 'BENCH_MEDIA_UPLOAD_MIB', 1024),
    smallUploadMiB: positiveInteger(env, 'BENCH_MEDIA_SMALL_UPLOAD_MIB', 100),
    tusChunkMiB: positiveInteger(env, 'BENCH_MEDIA_TUS_CHUNK_MIB', 64),
    images: positiveInteger(env, 'BENCH_MEDIA_IMAGES', 32),
    imageWidth: 3000,
    imageHeight: 2000,
    imageUploadConcurrency: 4,
    imageJobConcurrency: 2,
    recordingMiB: 8,
    rangeKiB: 64,
  };
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0) || !Number.isInteger(value)) throw new Error(`${name} must be a positive integer (got "${raw}")`);
  return value;
}
