import { join } from 'node:path';
import type { AppRole } from '../app.ts';
import type { Config } from '../config.ts';
import { packageVersion } from '../package-version.ts';
import { runTool, type FfmpegTools } from '../modules/media/processing/ffmpeg.ts';

/** What a server runs on, said once at start-up; never a password, token or key. */
export type StartupSummary = Readonly<{
  database: string;
  storage: string;
  queue: string;
  /** Who runs the jobs and the outbox relay. */
  background: string;
  ffmpeg: string;
  url: string;
  docs: string;
}>;

const VERSION_TIMEOUT_MS = 5_000;

export async function startupSummary(
  config: Config,
  role: AppRole,
  ffmpeg: FfmpegTools | undefined,
  listeningUrl: string,
): Promise<{ message: string; summary: StartupSummary }> {
  const docs = `${config.publicUrl || listeningUrl}/docs`;
  const summary = {
    database: describeDatabase(config),
    storage: describeStorage(config),
    queue: config.redisUrl === undefined ? 'in-process' : `BullMQ on Redis at ${hostAndPort(config.redisUrl, '6379')}`,
    background: role.background ? 'this process' : '`plaza worker` processes (WORKERS=0)',
    ffmpeg: ffmpeg === undefined ? 'none' : await ffmpegVersion(ffmpeg.ffmpeg),
    url: listeningUrl,
    docs,
  };
  const message = role.api
    ? `Plaza ${packageVersion()} is listening at ${listeningUrl}; API reference at ${docs}`
    : `Plaza ${packageVersion()} worker is running; its health routes and /metrics are at ${listeningUrl}`;
  return { message, summary };
}

/** Only the parts of the URL that say where: its user name, password and options stay out. */
function describeDatabase({ databaseUrl, databaseSchema, dataDir }: Config): string {
  if (databaseUrl === undefined) return `PGlite (embedded) in ${join(dataDir, 'db')}`;
  const url = new URL(databaseUrl);
  const database = decodeURIComponent(url.pathname.slice(1)) || '(the default)';
  return `PostgreSQL at ${hostAndPort(databaseUrl, '5432')}, database ${database}, schema ${databaseSchema}`;
}

function describeStorage({ s3, dataDir }: Config): string {
  if (s3 === undefined) return `files in ${join(dataDir, 'blobs')}`;
  return `S3 bucket ${s3.bucket} at ${s3.endpoint === undefined ? `AWS, ${s3.region}` : new URL(s3.endpoint).origin}`;
}

/** A socket directory given as `?host=` (PostgreSQL) stands in for a missing host name. */
function hostAndPort(serviceUrl: string, defaultPort: string): string {
  const url = new URL(serviceUrl);
  const host = url.hostname || url.searchParams.get('host') || 'localhost';
  return `${host}:${url.port || defaultPort}`;
}

/** `ffmpeg -version` starts with "ffmpeg version <version> Copyright …". */
async function ffmpegVersion(path: string): Promise<string> {
  try {
    const output = (await runTool(path, ['-version'], { timeoutMs: VERSION_TIMEOUT_MS, maxOutputBytes: 64 * 1024 })).toString('utf8');
    return `${/^ffmpeg version (\S+)/.exec(output)?.[1] ?? 'unknown version'} (${path})`;
  } catch (error) {
    return `unusable (${path}): ${(error as Error).message}`;
  }
}
