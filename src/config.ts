import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Everything Plaza reads from its environment, read once at start-up and passed down. */
export type Config = Readonly<{
  port: number;
  host: string;
  dataDir: string;
  /** `undefined` means the embedded PGlite database under `dataDir/db`. */
  databaseUrl: string | undefined;
  /** PostgreSQL schema to use (search_path); lets several deployments or test files share a server. */
  databaseSchema: string;
  databasePoolSize: number;
  /** `undefined` means the in-process job queue; set, jobs go through BullMQ on this Redis. */
  redisUrl: string | undefined;
  /** Prefix of every Redis key Plaza writes, so deployments can share a Redis. */
  redisPrefix: string;
  /** `undefined` means blobs live under `dataDir/blobs`. */
  s3: S3Config | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  jwtSecret: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** How long a verified access token's session is trusted before it is checked again (0: always check). */
  authCacheSeconds: number;
  corsOrigins: readonly string[];
  trustProxy: boolean;
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  authRateLimit: Readonly<{ loginPerIp: number; loginPerAccount: number; signupPerIp: number; windowSeconds: number }>;
  /** Prefix of the links Plaza hands out (`url`, `avatarUrl`); empty means links relative to the API. */
  publicUrl: string;
  media: MediaConfig;
  feeds: FeedsConfig;
}>;

export type FeedsConfig = Readonly<{
  /** Posts kept per cached home feed (Redis); older pages are read from PostgreSQL. */
  maxLength: number;
  /** Authors with more followers are not fanned out: their posts are merged into home feeds when read. */
  fanOutMaxFollowers: number;
  /** Recent posts of a newly followed account copied into the follower's feed. */
  backfillPosts: number;
}>;

export type MediaConfig = Readonly<{
  /** Largest upload of each kind, in bytes. */
  maxBytes: Readonly<{ image: number; audio: number; video: number }>;
  /** Largest profile image, in bytes. */
  avatarMaxBytes: number;
  /** What one user's uploads may add up to, in bytes. */
  quotaBytes: number;
  /** Largest resumable (tus) upload, in bytes. */
  resumableMaxBytes: number;
  /** How long a signed media link works. */
  signedUrlTtlSeconds: number;
  /** Bytes no row points to are removed once they are this old; keep it above the longest upload. */
  sweepGraceSeconds: number;
  sweepIntervalSeconds: number;
  /** Explicit ffmpeg/ffprobe executables; otherwise they are looked for on PATH. */
  ffmpegPath: string | undefined;
  ffprobePath: string | undefined;
}>;

export type S3Config = Readonly<{
  bucket: string;
  region: string;
  endpoint: string | undefined;
  credentials: Readonly<{ accessKeyId: string; secretAccessKey: string }> | undefined;
  forcePathStyle: boolean;
  /** Media content answers redirect to presigned URLs of the bucket instead of passing the bytes through. */
  redirectDownloads: boolean;
}>;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const MIN_SECRET_LENGTH = 32;

/**
 * Builds the configuration from environment variables. Every problem is collected and reported at
 * once, so an operator fixes a bad deployment in one round.
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const dataDir = resolve(read.string('DATA_DIR', './data'));
  const databaseUrl = read.optionalString('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const databaseSchema = read.string('DATABASE_SCHEMA', 'public');
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema)) {
    problems.push('DATABASE_SCHEMA must be a lower-case SQL identifier (letters, digits, _)');
  }

  const redisUrl = read.optionalString('REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL must be a redis:// or rediss:// URL');

  const config = {
    port: read.integer('PORT', 8080, 0, 65535),
    host: read.string('HOST', '127.0.0.1'),
    dataDir,
    databaseUrl,
    databaseSchema,
    databasePoolSize: read.integer('DATABASE_POOL_SIZE', 10, 1, 500),
    redisUrl,
    redisPrefix: read.string('REDIS_PREFIX', 'plaza'),
    s3: readS3(read, problems),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    jwtSecret: '',
    accessTokenTtlSeconds: read.integer('ACCESS_TOKEN_TTL', 900, 30, 86_400),
    refreshTokenTtlSeconds: read.integer('REFRESH_TOKEN_TTL', 30 * 86_400, 60, 365 * 86_400),
    authCacheSeconds: read.integer('AUTH_CACHE_SECONDS', 10, 0, 300),
    corsOrigins: read.list('CORS_ORIGINS'),
    trustProxy: read.boolean('TRUST_PROXY', false),
    bodyLimitBytes: read.integer('BODY_LIMIT', 256 * 1024, 1024, 64 * 1024 * 1024),
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    authRateLimit: {
      loginPerIp: read.integer('LOGIN_RATE_LIMIT_PER_IP', 30, 1, 1_000_000),
      loginPerAccount: read.integer('LOGIN_RATE_LIMIT_PER_ACCOUNT', 10, 1, 1_000_000),
      signupPerIp: read.integer('SIGNUP_RATE_LIMIT_PER_IP', 20, 1, 1_000_000),
      windowSeconds: read.integer('AUTH_RATE_LIMIT_WINDOW', 900, 1, 86_400),
    },
    publicUrl: (read.optionalString('PUBLIC_URL') ?? '').replace(/\/+$/, ''),
    media: readMedia(read),
    feeds: {
      maxLength: read.integer('FEED_MAX_LENGTH', 800, 20, 100_000),
      fanOutMaxFollowers: read.integer('FANOUT_MAX_FOLLOWERS', 10_000, 0, 100_000_000),
      backfillPosts: read.integer('FEED_BACKFILL_POSTS', 50, 0, 1000),
    },
  };
  if (config.publicUrl !== '' && !/^https?:\/\//.test(config.publicUrl)) {
    problems.push('PUBLIC_URL must be an http:// or https:// URL');
  }
  for (const origin of config.corsOrigins) {
    if (origin !== '*' && !URL.canParse(origin)) problems.push(`CORS_ORIGINS: "${origin}" is not an origin URL`);
  }

  const secret = read.optionalString('JWT_SECRET');
  if (secret !== undefined && secret.length < MIN_SECRET_LENGTH) {
    problems.push(`JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  } else if (secret === undefined && databaseUrl !== undefined) {
    problems.push('JWT_SECRET is required when DATABASE_URL is set (several instances must share it)');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  config.jwtSecret = secret ?? embeddedSecret(dataDir);
  return Object.freeze(config);
}

/** S3 is on when S3_BUCKET is set; credentials come as a pair, or from the SDK's default chain. */
function readS3(read: EnvReader, problems: string[]): S3Config | undefined {
  const bucket = read.optionalString('S3_BUCKET');
  if (bucket === undefined) return undefined;
  const endpoint = read.optionalString('S3_ENDPOINT');
  if (endpoint !== undefined && !URL.canParse(endpoint)) problems.push('S3_ENDPOINT must be a URL');
  const accessKeyId = read.optionalString('S3_ACCESS_KEY_ID');
  const secretAccessKey = read.optionalString('S3_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
  }
  return {
    bucket,
    region: read.string('S3_REGION', 'us-east-1'),
    endpoint,
    credentials:
      accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey } : undefined,
    forcePathStyle: read.boolean('S3_FORCE_PATH_STYLE', false),
    redirectDownloads: read.boolean('S3_REDIRECT_DOWNLOADS', false),
  };
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

function readMedia(read: EnvReader): MediaConfig {
  return {
    maxBytes: {
      image: read.integer('MEDIA_MAX_IMAGE_BYTES', 50 * MiB, 1, TiB),
      audio: read.integer('MEDIA_MAX_AUDIO_BYTES', 1 * GiB, 1, TiB),
      video: read.integer('MEDIA_MAX_VIDEO_BYTES', 2 * GiB, 1, TiB),
    },
    avatarMaxBytes: read.integer('AVATAR_MAX_BYTES', 10 * MiB, 1, GiB),
    quotaBytes: read.integer('MEDIA_QUOTA_BYTES', 20 * GiB, 1, 1024 * TiB),
    resumableMaxBytes: read.integer('UPLOAD_MAX_BYTES', 2 * GiB, 1, TiB),
    signedUrlTtlSeconds: read.integer('SIGNED_URL_TTL', 3600, 60, 7 * 86_400),
    sweepGraceSeconds: read.integer('MEDIA_SWEEP_GRACE', 86_400, 0, 30 * 86_400),
    sweepIntervalSeconds: read.integer('MEDIA_SWEEP_INTERVAL', 3600, 10, 86_400),
    ffmpegPath: read.optionalString('FFMPEG_PATH'),
    ffprobePath: read.optionalString('FFPROBE_PATH'),
  };
}

/** The embedded profile keeps a generated secret under DATA_DIR, so restarts keep sessions valid. */
function embeddedSecret(dataDir: string): string {
  const file = join(dataDir, 'jwt-secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  try {
    writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw error;
  }
}

class EnvReader {
  readonly #env: Env;
  readonly #problems: string[];

  constructor(env: Env, problems: string[]) {
    this.#env = env;
    this.#problems = problems;
  }

  optionalString(name: string): string | undefined {
    const value = this.#env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.optionalString(name) ?? fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optionalString(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < min || value > max) {
      this.#problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.optionalString(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    this.#problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  }

  oneOf<const T extends readonly string[]>(name: string, allowed: T, fallback: T[number]): T[number] {
    const raw = this.optionalString(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T[number];
    this.#problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
    return fallback;
  }

  list(name: string): string[] {
    return (this.optionalString(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }
}
