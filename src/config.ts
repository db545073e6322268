import { createECDH, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
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
  /** Where home feeds are cached, when not in `redisUrl`'s Redis: they are rebuilt from the database, so this one may evict. */
  redisCacheUrl: string | undefined;
  /**
   * Whether `plaza serve` also runs the background work (jobs, the outbox relay, catch-ups): false
   * with WORKERS=0, for web instances beside `plaza worker` processes.
   */
  backgroundWork: boolean;
  /** `undefined` means blobs live under `dataDir/blobs`. */
  s3: S3Config | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `auto`: human-readable lines when standard output is a terminal, JSON lines otherwise. */
  logFormat: 'auto' | 'json' | 'pretty';
  jwtSecret: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** How long a verified access token's session is trusted before it is checked again (0: always check). */
  authCacheSeconds: number;
  corsOrigins: readonly string[];
  trustProxy: TrustProxy;
  bodyLimitBytes: number;
  connections: ConnectionsConfig;
  metrics: MetricsConfig;
  shutdownTimeoutMs: number;
  /** How long SIGTERM keeps serving, `/readyz` answering 503, before the server stops accepting. */
  shutdownDrainMs: number;
  authRateLimit: Readonly<{
    loginPerIp: number;
    loginPerAccount: number;
    signupPerIp: number;
    /** Password re-confirmations (password change, account deletion) per session. */
    reconfirmPerSession: number;
    windowSeconds: number;
  }>;
  /** Most counters the in-memory rate limiter holds; the oldest are dropped past it. */
  rateLimitMaxKeys: number;
  passwordHashing: PasswordHashingConfig;
  /** Prefix of the links Plaza hands out (`url`, `avatarUrl`); empty means links relative to the API. */
  publicUrl: string;
  media: MediaConfig;
  feeds: FeedsConfig;
  stream: StreamConfig;
  /** Most accounts one user may follow: a home page read from the follow graph costs one index range per followee. */
  followMax: number;
  /** Emails (lower-cased) of the accounts that may grant coins. */
  adminEmails: readonly string[];
  wallet: WalletConfig;
  social: SocialConfig;
  push: PushConfig;
}>;

/** Web Push (RFC 8030/8291/8292): how its VAPID identity is had, and how pushes are paced. */
export type PushConfig = Readonly<{
  /**
   * The VAPID contact and keys: from the environment, or (embedded profile) a pair generated once and
   * kept under DATA_DIR; `off` says why push is off.
   */
  vapid: Readonly<{ subject: string; keys: VapidKeys | 'embedded' }> | Readonly<{ off: string }>;
  /** At most one push per (recipient, type, post) per this many seconds; what comes meanwhile is counted. */
  coalesceSeconds: number;
  /** https origins of push services on the operator's own network, which may be at private or loopback addresses. */
  internalOrigins: readonly string[];
}>;

/** A VAPID key pair as `web-push generate-vapid-keys` prints it: the raw P-256 keys, base64url. */
export type VapidKeys = Readonly<{ publicKey: string; privateKey: string }>;

/** Social sign-in: the configured providers only (none by default), and where the web flow may return to. */
export type SocialConfig = Readonly<{
  providers: readonly SocialProviderConfig[];
  /** URL prefixes a web or native sign-in may return to (custom schemes allowed for native apps). */
  redirectAllowlist: readonly string[];
  /** How long a call to a provider (discovery, keys, token checks) may take before it is given up. */
  providerTimeoutMs: number;
  /** After a token names a signing key Plaza does not know, how long before the keys are fetched again. */
  jwksRefreshCooldownSeconds: number;
}>;

export type SocialProviderConfig = Readonly<{
  /** `google`, …, or a generic OpenID Connect provider's name in lower case. */
  id: string;
  /** Shown on sign-in buttons. */
  name: string;
  /**
   * `id_token`: verified against the issuer's keys; `access_token`: checked with the provider's own
   * API at `api`. Kakao is `id_token` and, with `appId` set, takes access tokens too.
   */
  verifies: 'id_token' | 'access_token';
  /** The `https` issuer, for `id_token` providers: its discovery document lists the keys. */
  issuer: string | undefined;
  /** The `https` base URL of the API that checks the provider's access tokens (`AUTH_<PROVIDER>_API_URL`), no trailing slash. */
  api: string | undefined;
  /** Kakao's numeric app id (`AUTH_KAKAO_APP_ID`): an access token must have been issued to it. */
  appId: string | undefined;
  /**
   * The web sign-in's authorize and token endpoints of a provider without a discovery document
   * (Naver, Facebook, GitHub: under `AUTH_<PROVIDER>_OAUTH_URL`); an issuer's document lists its own.
   */
  oauth: Readonly<{ authorization: string; token: string }> | undefined;
  clientId: string;
  clientSecret: string | undefined;
  /** Every client id a token's `aud` may name: `clientId` first, then `AUTH_<PROVIDER>_AUDIENCES`. */
  audiences: readonly string[];
  /** Apple's ID tokens carry the SHA-256 (hex) of the nonce the app chose, not the nonce itself. */
  hashedNonce: boolean;
  /** Sign in with Apple's client secret is a JWT made from these at run time. */
  apple: Readonly<{ teamId: string; keyId: string; privateKey: string }> | undefined;
}>;

/** What coins are sold for, and what the platform keeps of a sale. */
export type WalletConfig = Readonly<{
  coinPackages: readonly CoinPackage[];
  /** The fee is this share of the price, rounded down: the seller never gets less than the rest. */
  platformFeePercent: number;
  /** Stripe Checkout top-ups; undefined without STRIPE_SECRET_KEY (top-ups then answer 503). */
  stripe: StripeConfig | undefined;
}>;

export type StripeConfig = Readonly<{
  secretKey: string;
  /** Signs the webhook deliveries (the endpoint's `whsec_…` secret). */
  webhookSecret: string;
  /** Where the Stripe client sends its calls (STRIPE_API_URL): Stripe's own, or a stand-in. */
  api: Readonly<{ protocol: 'http' | 'https'; host: string; port: number }>;
  /** The app page Checkout returns to, with `?topup=<id>&result=success|cancel`. */
  returnUrl: string;
}>;

/** `amount` is the price in the currency's minor unit (cents). */
export type CoinPackage = Readonly<{ id: string; coins: number; amount: number; currency: string }>;

/**
 * Whose `X-Forwarded-For` to believe for the client's address: nobody (`false`), the nearest `n`
 * proxies, or proxies at these addresses and CIDR ranges (or `loopback`, `linklocal`, `uniquelocal`).
 */
export type TrustProxy = false | number | readonly string[];

/** How long a connection may take over each part of its life, and how many there may be. */
export type ConnectionsConfig = Readonly<{
  /** From a request's first byte to the end of its headers. */
  headersTimeoutMs: number;
  /** From a request's first byte to the end of its body; upload routes are bound by `idleTimeoutMs` only. */
  requestTimeoutMs: number;
  /** A connection on which no byte moves for this long is closed (a stalled upload, an unread answer). */
  idleTimeoutMs: number;
  /** How long an idle connection is kept open for the client's next request. */
  keepAliveTimeoutMs: number;
  maxConnections: number;
  /** After an answer sent before its body arrived (413, a refused upload): how long, and how much, of the rest is read and dropped. */
  lingerTimeoutMs: number;
  lingerMaxBytes: number;
}>;

export type MetricsConfig = Readonly<{
  /** Addresses and CIDR ranges that may read /metrics, besides loopback. */
  allow: readonly string[];
  /** A bearer token that opens /metrics from anywhere. */
  token: string | undefined;
}>;

export type PasswordHashingConfig = Readonly<{
  /** argon2 runs at once, process-wide; kept below libuv's thread pool so file and DNS work keep threads. */
  concurrency: number;
  /** Runs that may wait for a turn; more are answered 429 at once. */
  queueLimit: number;
}>;

export type FeedsConfig = Readonly<{
  /** Posts kept per cached home feed (Redis); older pages are read from PostgreSQL. */
  maxLength: number;
  /** Authors with more followers are not fanned out: their posts are merged into home feeds when read. */
  fanOutMaxFollowers: number;
  /** Recent posts of a newly followed account copied into the follower's feed. */
  backfillPosts: number;
}>;

/** Live events (GET /v1/stream). */
export type StreamConfig = Readonly<{
  /** A comment line sent on every open stream this often, so proxies and clients see it alive. */
  heartbeatSeconds: number;
  /** Events kept per user for replay after a reconnect (Last-Event-ID). */
  backlogLength: number;
  /** A user's backlog with no new event for this long is dropped. */
  backlogTtlSeconds: number;
  /** What a stream may hold for a client that does not read; past it the client is cut off. */
  bufferBytes: number;
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
  /** Unfinished resumable uploads one user may have at once. */
  resumableMaxOpenPerUser: number;
  /** How long a signed media link works. */
  signedUrlTtlSeconds: number;
  /** Bytes no row points to are removed once they are this old; keep it above the longest upload. */
  sweepGraceSeconds: number;
  sweepIntervalSeconds: number;
  /** Explicit ffmpeg/ffprobe executables; otherwise the ones npm installed, else the ones on PATH. */
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
const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
/** Named ranges TRUST_PROXY also takes, as Fastify's proxy-addr knows them. */
const PROXY_ADDRESS_NAMES = ['loopback', 'linklocal', 'uniquelocal'];
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
  const redisCacheUrl = read.optionalString('REDIS_CACHE_URL');
  if (redisCacheUrl !== undefined && !/^rediss?:\/\//.test(redisCacheUrl)) problems.push('REDIS_CACHE_URL must be a redis:// or rediss:// URL');
  else if (redisCacheUrl !== undefined && redisUrl === undefined) problems.push('REDIS_CACHE_URL takes home feeds off the REDIS_URL Redis: set REDIS_URL too');

  const config = {
    port: read.integer('PORT', 8080, 0, 65535),
    host: read.string('HOST', '127.0.0.1'),
    dataDir,
    databaseUrl,
    databaseSchema,
    databasePoolSize: read.integer('DATABASE_POOL_SIZE', 10, 1, 500),
    redisUrl,
    redisPrefix: read.string('REDIS_PREFIX', 'plaza'),
    redisCacheUrl,
    backgroundWork: read.integer('WORKERS', 1, 0, 1) === 1,
    s3: readS3(read, problems),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    logFormat: read.oneOf('LOG_FORMAT', LOG_FORMATS, 'auto'),
    jwtSecret: '',
    accessTokenTtlSeconds: read.integer('ACCESS_TOKEN_TTL', 900, 30, 86_400),
    refreshTokenTtlSeconds: read.integer('REFRESH_TOKEN_TTL', 30 * 86_400, 60, 365 * 86_400),
    authCacheSeconds: read.integer('AUTH_CACHE_SECONDS', 10, 0, 300),
    corsOrigins: read.list('CORS_ORIGINS'),
    trustProxy: readTrustProxy(read, problems),
    bodyLimitBytes: read.integer('BODY_LIMIT', 256 * 1024, 1024, 64 * 1024 * 1024),
    connections: readConnections(read, problems),
    metrics: readMetrics(read, problems),
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    shutdownDrainMs: read.integer('SHUTDOWN_DRAIN_MS', 5_000, 0, 600_000),
    authRateLimit: {
      loginPerIp: read.integer('LOGIN_RATE_LIMIT_PER_IP', 30, 1, 1_000_000),
      loginPerAccount: read.integer('LOGIN_RATE_LIMIT_PER_ACCOUNT', 10, 1, 1_000_000),
      signupPerIp: read.integer('SIGNUP_RATE_LIMIT_PER_IP', 20, 1, 1_000_000),
      reconfirmPerSession: read.integer('PASSWORD_CONFIRM_RATE_LIMIT_PER_SESSION', 10, 1, 1_000_000),
      windowSeconds: read.integer('AUTH_RATE_LIMIT_WINDOW', 900, 1, 86_400),
    },
    rateLimitMaxKeys: read.integer('RATE_LIMIT_MAX_KEYS', 100_000, 100, 100_000_000),
    passwordHashing: readPasswordHashing(read, problems),
    publicUrl: (read.optionalString('PUBLIC_URL') ?? '').replace(/\/+$/, ''),
    media: readMedia(read),
    feeds: {
      maxLength: read.integer('FEED_MAX_LENGTH', 800, 20, 100_000),
      fanOutMaxFollowers: read.integer('FANOUT_MAX_FOLLOWERS', 10_000, 0, 100_000_000),
      backfillPosts: read.integer('FEED_BACKFILL_POSTS', 50, 0, 1000),
    },
    stream: {
      heartbeatSeconds: read.integer('STREAM_HEARTBEAT_SECONDS', 25, 1, 3600),
      backlogLength: read.integer('STREAM_BACKLOG_LENGTH', 500, 10, 100_000),
      backlogTtlSeconds: read.integer('STREAM_BACKLOG_TTL', 86_400, 60, 30 * 86_400),
      bufferBytes: read.integer('STREAM_BUFFER_BYTES', 256 * 1024, 1024, 64 * 1024 * 1024),
    },
    followMax: read.integer('FOLLOW_MAX', 5000, 1, 1_000_000),
    adminEmails: readAdminEmails(read, problems),
    wallet: {
      coinPackages: readCoinPackages(read, problems),
      platformFeePercent: read.integer('PLATFORM_FEE_PERCENT', 10, 0, 100),
      stripe: readStripe(read, problems),
    },
    social: readSocial(read, problems),
    push: readPush(read, problems, databaseUrl),
  };
  if (config.stream.heartbeatSeconds * 1000 >= config.connections.idleTimeoutMs) {
    problems.push('STREAM_HEARTBEAT_SECONDS must be shorter than IDLE_TIMEOUT_MS, or idle event streams are cut off between heartbeats');
  }
  if (config.publicUrl !== '' && !/^https?:\/\//.test(config.publicUrl)) {
    problems.push('PUBLIC_URL must be an http:// or https:// URL');
  }
  if (config.social.redirectAllowlist.length > 0 && config.publicUrl === '') {
    problems.push('PUBLIC_URL is required with AUTH_REDIRECT_ALLOWLIST (providers send the web sign-in back to PUBLIC_URL/v1/auth/oauth/{provider}/callback)');
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
  if (!config.backgroundWork && (databaseUrl === undefined || redisUrl === undefined)) {
    problems.push('WORKERS=0 leaves the jobs and the outbox to `plaza worker` processes, which share them only through DATABASE_URL and REDIS_URL: set both');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  config.jwtSecret = secret ?? embeddedSecret(dataDir);
  return Object.freeze(config);
}

function readAdminEmails(read: EnvReader, problems: string[]): string[] {
  const emails = read.list('ADMIN_EMAILS').map((email) => email.toLowerCase());
  for (const email of emails) if (!/^[^\s@]+@[^\s@]+$/.test(email)) problems.push(`ADMIN_EMAILS: "${email}" is not an email address`);
  return emails;
}

const DEFAULT_COIN_PACKAGES: CoinPackage[] = [
  { id: 'coins-100', coins: 100, amount: 199, currency: 'usd' },
  { id: 'coins-550', coins: 550, amount: 999, currency: 'usd' },
  { id: 'coins-1200', coins: 1200, amount: 1999, currency: 'usd' },
];
const MAX_PACKAGE_COINS = 10_000_000;
const MAX_PACKAGE_AMOUNT = 100_000_000;

/** COIN_PACKAGES: a JSON array of `{ id, coins, amount, currency }`; every wrong package is named. */
function readCoinPackages(read: EnvReader, problems: string[]): CoinPackage[] {
  const raw = read.optionalString('COIN_PACKAGES');
  if (raw === undefined) return DEFAULT_COIN_PACKAGES;
  const shape = 'a JSON array of { "id", "coins", "amount", "currency" } (e.g. [{"id":"coins-100","coins":100,"amount":199,"currency":"usd"}])';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    problems.push(`COIN_PACKAGES must be ${shape}`);
    return DEFAULT_COIN_PACKAGES;
  }
  const wrong = (index: number, what: string) => `COIN_PACKAGES[${index}]: ${what}`;
  const before = problems.length;
  const seen = new Set<string>();
  const packages = parsed.map((item: unknown, index): CoinPackage => {
    const { id, coins, amount, currency } = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const integer = (value: unknown, max: number) => Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= max;
    if (typeof id !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(id)) problems.push(wrong(index, 'id must be 1 to 64 lower-case letters, digits, - or _'));
    else if (seen.has(id)) problems.push(wrong(index, `id "${id}" is used twice`));
    else seen.add(id);
    if (!integer(coins, MAX_PACKAGE_COINS)) problems.push(wrong(index, `coins must be an integer from 1 to ${MAX_PACKAGE_COINS}`));
    if (!integer(amount, MAX_PACKAGE_AMOUNT)) problems.push(wrong(index, `amount must be an integer from 1 to ${MAX_PACKAGE_AMOUNT} (the price in cents)`));
    if (typeof currency !== 'string' || !/^[a-z]{3}$/i.test(currency)) problems.push(wrong(index, 'currency must be a three-letter ISO code (e.g. usd)'));
    return { id: id as string, coins: coins as number, amount: amount as number, currency: String(currency).toLowerCase() };
  });
  return problems.length === before ? packages : DEFAULT_COIN_PACKAGES;
}

/**
 * The built-in providers: whether their native tokens are ID tokens (and from which issuer, which
 * `AUTH_<PROVIDER>_ISSUER` may change, for a local identity provider in tests), and whether the web
 * flow's code exchange needs `AUTH_<PROVIDER>_CLIENT_SECRET` (Kakao's is optional; Apple's is made
 * from its key).
 */
const BUILT_IN_PROVIDERS = [
  { id: 'google', name: 'Google', issuer: 'https://accounts.google.com', api: undefined, secret: 'required', oauth: undefined },
  { id: 'apple', name: 'Apple', issuer: 'https://appleid.apple.com', api: undefined, secret: 'apple-key', oauth: undefined },
  {
    id: 'facebook',
    name: 'Facebook',
    issuer: undefined,
    api: 'https://graph.facebook.com',
    secret: 'required',
    // Facebook's code is redeemed on its Graph API (AUTH_FACEBOOK_API_URL).
    oauth: { url: 'https://www.facebook.com', authorization: '/dialog/oauth', token: { onApi: '/oauth/access_token' } },
  },
  { id: 'kakao', name: 'Kakao', issuer: 'https://kauth.kakao.com', api: 'https://kapi.kakao.com', secret: 'optional', oauth: undefined },
  {
    id: 'naver',
    name: 'Naver',
    issuer: undefined,
    api: 'https://openapi.naver.com',
    secret: 'required',
    oauth: { url: 'https://nid.naver.com', authorization: '/oauth2.0/authorize', token: '/oauth2.0/token' },
  },
  {
    id: 'github',
    name: 'GitHub',
    issuer: undefined,
    api: 'https://api.github.com',
    secret: 'required',
    oauth: { url: 'https://github.com', authorization: '/login/oauth/authorize', token: '/login/oauth/access_token' },
  },
] as const;

/** Ids a generic provider may not take: the built-in ones, and the password's entry in an account's `providers`. */
const RESERVED_PROVIDER_IDS = new Set<string>([...BUILT_IN_PROVIDERS.map((provider) => provider.id), 'password']);

/** A provider exists when its client id is set; its other settings are then checked, and refused without it. */
function readSocial(read: EnvReader, problems: string[]): SocialConfig {
  const providers: SocialProviderConfig[] = [];
  for (const builtIn of BUILT_IN_PROVIDERS) {
    const prefix = `AUTH_${builtIn.id.toUpperCase()}`;
    const apple = builtIn.secret === 'apple-key' ? readAppleKey(read, problems) : undefined;
    const issuer = builtIn.issuer === undefined ? undefined : readIssuer(read, problems, `${prefix}_ISSUER`, builtIn.issuer);
    const api = builtIn.api === undefined ? undefined : readIssuer(read, problems, `${prefix}_API_URL`, builtIn.api)?.replace(/\/+$/, '');
    const appId = builtIn.id === 'kakao' ? readKakaoAppId(read, problems) : undefined;
    const oauthUrl = builtIn.oauth === undefined ? undefined : readIssuer(read, problems, `${prefix}_OAUTH_URL`, builtIn.oauth.url)?.replace(/\/+$/, '');
    const accessTokenSettings = [
      ...(api === undefined ? [] : [`${prefix}_API_URL`]),
      ...(oauthUrl === undefined ? [] : [`${prefix}_OAUTH_URL`]),
      ...(builtIn.id === 'kakao' ? ['AUTH_KAKAO_APP_ID'] : []),
    ];
    const setOnlyWithClientId = [...(apple?.names ?? []), ...accessTokenSettings.filter((name) => read.optionalString(name) !== undefined)];
    const provider = readProvider(read, problems, prefix, {
      id: builtIn.id,
      name: builtIn.name,
      issuer,
      secretRequired: builtIn.secret === 'required',
      alsoNeeds: setOnlyWithClientId,
    });
    if (provider === undefined) continue;
    if (apple !== undefined && apple.missing.length > 0) {
      for (const name of apple.missing) problems.push(`${name} is required with ${prefix}_CLIENT_ID (Sign in with Apple's client secret is made from it)`);
    }
    // Kakao's access tokens are checked only against its app id: without one, Kakao takes ID tokens alone.
    const checksAccessTokens = builtIn.id !== 'kakao' || appId !== undefined;
    const oauth =
      builtIn.oauth === undefined || oauthUrl === undefined || api === undefined
        ? undefined
        : {
            authorization: `${oauthUrl}${builtIn.oauth.authorization}`,
            token: typeof builtIn.oauth.token === 'string' ? `${oauthUrl}${builtIn.oauth.token}` : `${api}${builtIn.oauth.token.onApi}`,
          };
    providers.push({ ...provider, api: checksAccessTokens ? api : undefined, appId, oauth, hashedNonce: builtIn.id === 'apple', apple: apple?.key });
  }
  for (const name of read.list('AUTH_OIDC_PROVIDERS')) {
    const id = name.toLowerCase();
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(id)) {
      problems.push(`AUTH_OIDC_PROVIDERS: "${name}" must be a letter then up to 31 letters, digits or _ (it becomes the provider's id)`);
      continue;
    }
    if (RESERVED_PROVIDER_IDS.has(id) || providers.some((provider) => provider.id === id)) {
      problems.push(`AUTH_OIDC_PROVIDERS: "${name}" is taken (by a built-in provider, password, or an earlier entry)`);
      continue;
    }
    const prefix = `AUTH_OIDC_${id.toUpperCase()}`;
    const issuer = readIssuer(read, problems, `${prefix}_ISSUER`, undefined);
    if (read.optionalString(`${prefix}_ISSUER`) === undefined) problems.push(`${prefix}_ISSUER is required: "${name}" is listed in AUTH_OIDC_PROVIDERS`);
    const provider = readProvider(read, problems, prefix, { id, name: read.string(`${prefix}_NAME`, name), issuer, secretRequired: true, alsoNeeds: [] });
    if (provider === undefined) problems.push(`${prefix}_CLIENT_ID is required: "${name}" is listed in AUTH_OIDC_PROVIDERS`);
    else providers.push({ ...provider, api: undefined, appId: undefined, oauth: undefined, hashedNonce: false, apple: undefined });
  }
  const redirectAllowlist = read.list('AUTH_REDIRECT_ALLOWLIST');
  for (const prefix of redirectAllowlist) {
    // A prefix must name at least a scheme and a host (or a custom scheme's path): a bare "https://" would allow anywhere.
    if (!URL.canParse(prefix) || !/^[a-z][a-z0-9+.-]*:\/*[^/\s]+/i.test(prefix)) {
      problems.push(`AUTH_REDIRECT_ALLOWLIST: "${prefix}" is not a URL prefix (e.g. https://app.example.com/auth/ or com.example.app:/oauth)`);
    }
  }
  return {
    providers,
    redirectAllowlist,
    providerTimeoutMs: read.integer('AUTH_PROVIDER_TIMEOUT_MS', 5000, 100, 60_000),
    jwksRefreshCooldownSeconds: read.integer('AUTH_JWKS_REFRESH_COOLDOWN', 30, 0, 3600),
  };
}

/**
 * One provider's client id, secret and extra audiences. Without a client id the provider is off, and
 * any of its other settings is a mistake worth naming.
 */
function readProvider(
  read: EnvReader,
  problems: string[],
  prefix: string,
  provider: { id: string; name: string; issuer: string | undefined; secretRequired: boolean; alsoNeeds: readonly string[] },
): Omit<SocialProviderConfig, 'api' | 'appId' | 'oauth' | 'hashedNonce' | 'apple'> | undefined {
  const clientId = read.optionalString(`${prefix}_CLIENT_ID`);
  const clientSecret = read.optionalString(`${prefix}_CLIENT_SECRET`);
  const audiences = read.list(`${prefix}_AUDIENCES`);
  if (clientId === undefined) {
    const stray = [
      ...(clientSecret === undefined ? [] : [`${prefix}_CLIENT_SECRET`]),
      ...(audiences.length === 0 ? [] : [`${prefix}_AUDIENCES`]),
      ...provider.alsoNeeds,
    ];
    for (const name of stray) problems.push(`${name} is set but ${prefix}_CLIENT_ID is not: set the client id to turn ${provider.name} sign-in on, or unset ${name}`);
    return undefined;
  }
  if (provider.secretRequired && clientSecret === undefined) {
    problems.push(`${prefix}_CLIENT_SECRET is required with ${prefix}_CLIENT_ID (the web sign-in's code exchange sends it)`);
  }
  return {
    id: provider.id,
    name: provider.name,
    verifies: provider.issuer === undefined ? 'access_token' : 'id_token',
    issuer: provider.issuer,
    clientId,
    clientSecret,
    audiences: [...new Set([clientId, ...audiences])],
  };
}

/** An issuer URL: https only (its keys decide who may sign in), no query or fragment; kept as written, since tokens name it exactly (Auth0's ends in /). */
function readIssuer(read: EnvReader, problems: string[], name: string, fallback: string | undefined): string | undefined {
  const raw = read.optionalString(name) ?? fallback;
  if (raw === undefined) return undefined;
  const url = URL.canParse(raw) ? new URL(raw) : undefined;
  if (url === undefined || url.protocol !== 'https:' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    problems.push(`${name} must be an https:// URL without query or fragment (got "${raw}")`);
    return fallback;
  }
  return raw;
}

/** Kakao's app id is a number (the console's "App ID"), not the REST API key that is its client id. */
function readKakaoAppId(read: EnvReader, problems: string[]): string | undefined {
  const appId = read.optionalString('AUTH_KAKAO_APP_ID');
  if (appId !== undefined && !/^[0-9]{1,20}$/.test(appId)) {
    problems.push(`AUTH_KAKAO_APP_ID must be the numeric app id of Kakao's developer console (got "${appId}")`);
    return undefined;
  }
  return appId;
}

const APPLE_KEY_SETTINGS = ['AUTH_APPLE_TEAM_ID', 'AUTH_APPLE_KEY_ID', 'AUTH_APPLE_PRIVATE_KEY'] as const;

/** Apple's signing key (a PKCS #8 PEM, `\n` escapes allowed for one-line variables), checked to be an EC key now rather than at the first sign-in. */
function readAppleKey(read: EnvReader, problems: string[]) {
  const [teamId, keyId, rawKey] = APPLE_KEY_SETTINGS.map((name) => read.optionalString(name));
  const names = APPLE_KEY_SETTINGS.filter((name) => read.optionalString(name) !== undefined);
  const missing = APPLE_KEY_SETTINGS.filter((name) => read.optionalString(name) === undefined);
  const privateKey = rawKey?.replace(/\\n/g, '\n');
  if (privateKey !== undefined && !isEcPrivateKey(privateKey)) {
    problems.push('AUTH_APPLE_PRIVATE_KEY must be the .p8 key Apple gave (a PEM "BEGIN PRIVATE KEY" block of an EC P-256 key)');
  }
  const key = teamId !== undefined && keyId !== undefined && privateKey !== undefined ? { teamId, keyId, privateKey } : undefined;
  return { key, names, missing };
}

function isEcPrivateKey(pem: string): boolean {
  try {
    return createPrivateKey(pem).asymmetricKeyType === 'ec';
  } catch {
    return false;
  }
}

/** Payments are on when STRIPE_SECRET_KEY is set; the webhook secret and the return page come with it. */
function readStripe(read: EnvReader, problems: string[]): StripeConfig | undefined {
  const secretKey = read.optionalString('STRIPE_SECRET_KEY');
  const webhookSecret = read.optionalString('STRIPE_WEBHOOK_SECRET');
  const returnUrl = read.optionalString('PAYMENTS_RETURN_URL');
  const apiUrl = read.string('STRIPE_API_URL', 'https://api.stripe.com');
  let api: StripeConfig['api'] = { protocol: 'https', host: 'api.stripe.com', port: 443 };
  const parsed = URL.canParse(apiUrl) ? new URL(apiUrl) : undefined;
  if (parsed === undefined || !['http:', 'https:'].includes(parsed.protocol) || !['', '/'].includes(parsed.pathname) || parsed.search !== '') {
    problems.push('STRIPE_API_URL must be an http:// or https:// origin (e.g. https://api.stripe.com)');
  } else {
    const protocol = parsed.protocol === 'http:' ? 'http' : 'https';
    api = { protocol, host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port === '' ? (protocol === 'http' ? 80 : 443) : Number(parsed.port) };
  }
  if (returnUrl !== undefined && !/^https?:\/\//.test(returnUrl)) problems.push('PAYMENTS_RETURN_URL must be an http:// or https:// URL');
  if (secretKey === undefined) {
    for (const [name, value] of [['STRIPE_WEBHOOK_SECRET', webhookSecret], ['PAYMENTS_RETURN_URL', returnUrl]] as const) {
      if (value !== undefined) problems.push(`${name} is set but STRIPE_SECRET_KEY is not: set the key to take payments, or unset ${name}`);
    }
    return undefined;
  }
  if (webhookSecret === undefined) problems.push('STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY (the signing secret of the webhook endpoint, whsec_…)');
  if (returnUrl === undefined) problems.push('PAYMENTS_RETURN_URL is required with STRIPE_SECRET_KEY (the app page Checkout returns to)');
  return { secretKey, webhookSecret: webhookSecret ?? '', api, returnUrl: returnUrl ?? '' };
}

/**
 * VAPID keys come as a pair, checked to be one; the subject is VAPID_SUBJECT or, failing it, a
 * `mailto:` of the first ADMIN_EMAILS entry. Without keys the embedded profile generates a pair; with
 * DATABASE_URL (several instances) a pair under one instance's DATA_DIR would not be the others', so
 * push is off there until the keys are set.
 */
function readPush(read: EnvReader, problems: string[], databaseUrl: string | undefined): PushConfig {
  const publicKey = read.optionalString('VAPID_PUBLIC_KEY');
  const privateKey = read.optionalString('VAPID_PRIVATE_KEY');
  const given = read.optionalString('VAPID_SUBJECT');
  const coalesceSeconds = read.integer('PUSH_COALESCE_SECONDS', 60, 0, 86_400);
  const internalOrigins = read.list('PUSH_INTERNAL_ORIGINS');
  for (const origin of internalOrigins) {
    if (!URL.canParse(origin) || new URL(origin).protocol !== 'https:' || new URL(origin).origin !== origin.replace(/\/$/, '')) {
      problems.push(`PUSH_INTERNAL_ORIGINS: "${origin}" is not an https:// origin (scheme, host and port only)`);
    }
  }
  const settings = { coalesceSeconds, internalOrigins: internalOrigins.map((origin) => origin.replace(/\/$/, '')) };
  if ((publicKey === undefined) !== (privateKey === undefined)) {
    problems.push('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY must be set together (npx web-push generate-vapid-keys prints a pair)');
  } else if (publicKey !== undefined && privateKey !== undefined && !isVapidPair(publicKey, privateKey)) {
    problems.push('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY must be one P-256 key pair in base64url (65-byte uncompressed public key, 32-byte private key)');
  }
  if (given !== undefined && !isContact(given)) {
    problems.push(`VAPID_SUBJECT must be a real contact, mailto:you@your-domain or https://your-site (push services refuse placeholders such as example.com or localhost; got "${given}")`);
  }
  const admin = read.list('ADMIN_EMAILS')[0];
  const subject = given ?? (admin !== undefined && isContact(`mailto:${admin}`) ? `mailto:${admin}` : undefined);
  const keys = publicKey !== undefined && privateKey !== undefined ? { publicKey, privateKey } : undefined;
  if (subject === undefined) {
    if (keys !== undefined) problems.push('VAPID_SUBJECT is required with VAPID keys (a mailto: or https: contact for push services), or set ADMIN_EMAILS');
    return { ...settings, vapid: { off: 'no VAPID_SUBJECT (a mailto: or https: contact) nor ADMIN_EMAILS to take one from' } };
  }
  if (keys !== undefined) return { ...settings, vapid: { subject, keys } };
  if (databaseUrl === undefined) return { ...settings, vapid: { subject, keys: 'embedded' } };
  if (given !== undefined && publicKey === undefined && privateKey === undefined) problems.push('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are required with VAPID_SUBJECT when DATABASE_URL is set (a pair generated under DATA_DIR would be one instance\'s own)');
  return { ...settings, vapid: { off: 'no VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY (with DATABASE_URL every instance needs the same pair)' } };
}

function isVapidPair(publicKey: string, privateKey: string): boolean {
  const base64url = /^[A-Za-z0-9_-]+$/;
  if (!base64url.test(publicKey) || !base64url.test(privateKey)) return false;
  const ecdh = createECDH('prime256v1');
  try {
    ecdh.setPrivateKey(Buffer.from(privateKey, 'base64url'));
  } catch {
    return false;
  }
  return Buffer.from(privateKey, 'base64url').length === 32 && ecdh.getPublicKey().equals(Buffer.from(publicKey, 'base64url'));
}

/** Names no real contact is at: the example domains, reserved top-level domains, local names, addresses. */
const PLACEHOLDER_HOST = /(^|\.)(example\.(com|net|org)|example|test|invalid|localhost|local|localdomain)$/i;

/** A `mailto:` address or `https:` URL someone could be reached at: a dotted name that is no placeholder. */
function isContact(subject: string): boolean {
  if (!URL.canParse(subject)) return false;
  const url = new URL(subject);
  const host =
    url.protocol === 'mailto:' ? /^[^\s@/?#]+@([a-z0-9-]+(\.[a-z0-9-]+)+)$/i.exec(decodeURIComponent(url.pathname))?.[1]
    : url.protocol === 'https:' && url.username === '' && url.password === '' ? url.hostname
    : undefined;
  if (host === undefined || url.search !== '' || url.hash !== '') return false;
  return /\.[a-z]{2,}$/i.test(host) && !PLACEHOLDER_HOST.test(host) && isIP(host) === 0;
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

/**
 * `true` is refused rather than guessed at: it used to trust the leftmost `X-Forwarded-For` entry,
 * which the client writes, and one hop or two would each be wrong for some deployment.
 */
function readTrustProxy(read: EnvReader, problems: string[]): TrustProxy {
  const raw = read.optionalString('TRUST_PROXY')?.toLowerCase();
  if (raw === undefined || ['false', 'no', 'off', '0'].includes(raw)) return false;
  if (/^\d+$/.test(raw)) return read.integer('TRUST_PROXY', 0, 0, 20) || false;
  if (['true', 'yes', 'on'].includes(raw)) {
    problems.push(
      'TRUST_PROXY=true would take the client address from whatever X-Forwarded-For a client writes: ' +
        'set the number of proxies in front of Plaza (1 behind one nginx or load balancer) or their addresses (e.g. loopback or 10.0.0.0/8)',
    );
    return false;
  }
  return read.addresses('TRUST_PROXY', PROXY_ADDRESS_NAMES);
}

function readConnections(read: EnvReader, problems: string[]): ConnectionsConfig {
  const headersTimeoutMs = read.integer('HEADERS_TIMEOUT_MS', 10_000, 100, 300_000);
  const requestTimeoutMs = read.integer('REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  if (requestTimeoutMs < headersTimeoutMs) {
    problems.push('REQUEST_TIMEOUT_MS must be at least HEADERS_TIMEOUT_MS (the headers are part of the request)');
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    idleTimeoutMs: read.integer('IDLE_TIMEOUT_MS', 60_000, 100, 3_600_000),
    keepAliveTimeoutMs: read.integer('KEEPALIVE_TIMEOUT_MS', 72_000, 100, 3_600_000),
    maxConnections: read.integer('MAX_CONNECTIONS', 1000, 1, 1_000_000),
    lingerTimeoutMs: read.integer('LINGER_TIMEOUT_MS', 5_000, 0, 600_000),
    lingerMaxBytes: read.integer('LINGER_MAX_BYTES', 16 * MiB, 0, GiB),
  };
}

const MIN_METRICS_TOKEN_LENGTH = 16;

function readMetrics(read: EnvReader, problems: string[]): MetricsConfig {
  const token = read.optionalString('METRICS_TOKEN');
  if (token !== undefined && token.length < MIN_METRICS_TOKEN_LENGTH) {
    problems.push(`METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_LENGTH} characters`);
  }
  return { allow: read.addresses('METRICS_ALLOW'), token };
}

/**
 * argon2 takes a libuv thread per run, from the pool (UV_THREADPOOL_SIZE, 4 by default) that file
 * reads and DNS look-ups also wait for; by default password work may take half of it.
 */
function readPasswordHashing(read: EnvReader, problems: string[]): PasswordHashingConfig {
  const threads = read.integer('UV_THREADPOOL_SIZE', 4, 1, 1024);
  const most = Math.max(1, threads - 1);
  const concurrency = read.integer('PASSWORD_HASH_CONCURRENCY', Math.max(1, Math.floor(threads / 2)), 1, 1024);
  if (concurrency > most) {
    problems.push(`PASSWORD_HASH_CONCURRENCY must leave a thread of UV_THREADPOOL_SIZE (${threads}) free: at most ${most}`);
  }
  return { concurrency, queueLimit: read.integer('PASSWORD_HASH_QUEUE', 64, 0, 100_000) };
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
    resumableMaxOpenPerUser: read.integer('UPLOAD_MAX_OPEN_PER_USER', 20, 1, 10_000),
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

  /** A list of IP addresses and CIDR ranges (`10.0.0.0/8`, `fd00::/8`), or of the `names` given. */
  addresses(name: string, names: readonly string[] = []): string[] {
    const items = this.list(name);
    const wrong = items.filter((item) => !names.includes(item.toLowerCase()) && !isAddressOrRange(item));
    for (const item of wrong) this.#problems.push(`${name}: "${item}" is not an IP address or CIDR range`);
    return wrong.length === 0 ? items : [];
  }
}

function isAddressOrRange(item: string): boolean {
  const [address = '', prefix, ...rest] = item.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}
