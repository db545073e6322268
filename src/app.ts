import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import type { LogEvent } from 'kysely';
import type { Config } from './config.ts';
import { packageVersion } from './package-version.ts';
import { openBlobStore } from './platform/blobs/open.ts';
import type { BlobStore } from './platform/blobs/types.ts';
import type { DatabaseHandle } from './platform/db/database.ts';
import { openDatabase } from './platform/db/open.ts';
import { migrateToLatest } from './platform/db/migrate.ts';
import { openFeedStore } from './platform/feeds/open.ts';
import type { FeedStore } from './platform/feeds/types.ts';
import { openOutbox } from './platform/outbox/open.ts';
import { openPubSub } from './platform/pubsub/open.ts';
import type { PubSub } from './platform/pubsub/types.ts';
import type { AnyOutboxHandler, Outbox } from './platform/outbox/types.ts';
import { runJobs } from './platform/queue/jobs.ts';
import { openJobQueue } from './platform/queue/open.ts';
import type { JobQueue } from './platform/queue/types.ts';
import { openRateLimiter } from './platform/ratelimit/open.ts';
import type { RateLimiter } from './platform/ratelimit/types.ts';
import type { TaskSlots } from './platform/slots.ts';
import { decorateCaller, identifyCaller, requireCaller, requireCallerOrQueryToken } from './http/auth.ts';
import { connectionOptions, guardConnections, proxyTrust } from './http/connections.ts';
import { trackHandlersInFlight } from './http/in-flight.ts';
import { registerDraining } from './http/draining.ts';
import { createLogger } from './http/logging.ts';
import { registerMetrics } from './http/metrics.ts';
import { icons } from './http/icons.ts';
import { registerOpenApi } from './http/openapi.ts';
import { registerProblemHandlers, sendErrorAsProblem } from './http/problems.ts';
import { registerSecurityHeaders, servedOverHttps } from './http/security-headers.ts';
import { serviceRoutes } from './http/service-routes.ts';
import { createLinkSigner } from './http/signed-links.ts';
import { serializersCompiledOnFirstUse } from './http/serialization.ts';
import { registerWebClient, WEB_CLIENT_AUTH_RETURN, WEB_CLIENT_DIST } from './http/web-client.ts';
import { MAX_PATH_SEGMENT_LENGTH, refuseLongPathSegments, rejectUnsafeInput, validatorCompiler } from './http/validation.ts';
import { accountRoutes } from './modules/accounts/routes.ts';
import { createPasswordHasher } from './modules/accounts/passwords.ts';
import { createAccountsService } from './modules/accounts/service.ts';
import { authRoutes } from './modules/auth/routes.ts';
import { avatarRoutes } from './modules/avatars/routes.ts';
import { createAvatarsService } from './modules/avatars/service.ts';
import { createAuthService } from './modules/auth/service.ts';
import { AccessCache } from './modules/auth/access-cache.ts';
import { createAccessTokens } from './modules/auth/tokens.ts';
import { createAccessTokenVerifier } from './modules/auth/social/access-tokens.ts';
import { createIdTokenVerifier } from './modules/auth/social/id-tokens.ts';
import { socialSignInRoutes, webSignInRoutes } from './modules/auth/social/routes.ts';
import { createSocialSignInService } from './modules/auth/social/service.ts';
import { createWebSignIn } from './modules/auth/social/web-flow.ts';
import { createAvatarCopy } from './modules/auth/social/avatar-copy.ts';
import { mediaJobs } from './modules/media/jobs.ts';
import { mediaOutboxHandlers } from './modules/media/outbox.ts';
import { findFfmpeg, type FfmpegTools } from './modules/media/processing/ffmpeg.ts';
import { mediaRoutes } from './modules/media/routes.ts';
import { createMediaService } from './modules/media/service.ts';
import { createSquareImageSlots } from './modules/media/slots.ts';
import { memoRoutes } from './modules/memos/routes.ts';
import { notificationHandlers } from './modules/notifications/outbox.ts';
import { notificationRoutes } from './modules/notifications/routes.ts';
import { createNotificationsService } from './modules/notifications/service.ts';
import { postRoutes } from './modules/posts/routes.ts';
import { createPostsService } from './modules/posts/service.ts';
import { socialRoutes } from './modules/social/routes.ts';
import { openBacklog, type EventBacklog } from './modules/stream/backlog.ts';
import { registerStreamMetrics } from './modules/stream/metrics.ts';
import { streamHandlers } from './modules/stream/outbox.ts';
import { streamRoutes } from './modules/stream/routes.ts';
import { createStreamService } from './modules/stream/service.ts';
import { timelineHandlers } from './modules/timelines/outbox.ts';
import { timelineRoutes } from './modules/timelines/routes.ts';
import { createTimelinesService } from './modules/timelines/service.ts';
import { createPopularUsers } from './modules/social/popular.ts';
import { createSocialService } from './modules/social/service.ts';
import { recordingRoutes } from './modules/recordings/routes.ts';
import { uploadJobs } from './modules/uploads/jobs.ts';
import { uploadRoutes } from './modules/uploads/routes.ts';
import { createUploadsService } from './modules/uploads/service.ts';
import { openPostgresLocker } from './modules/uploads/postgres-locker.ts';
import { createMemosService } from './modules/memos/service.ts';
import { pushJobs } from './modules/push/jobs.ts';
import { pushRoutes } from './modules/push/routes.ts';
import { createPushService } from './modules/push/service.ts';
import { walletJobs } from './modules/wallet/jobs.ts';
import { walletRoutes } from './modules/wallet/routes.ts';
import { createWalletService } from './modules/wallet/service.ts';
import { createTopupsService } from './modules/wallet/topups.ts';

/** The adapters an app runs on, built once per process (or per test) and closed with the app. */
export type Deps = {
  logger: FastifyBaseLogger;
  database: DatabaseHandle;
  /** Effects of writes, recorded in their transactions and handed to handlers after commit. */
  outbox: Outbox;
  blobs: BlobStore;
  queue: JobQueue;
  rateLimiter: RateLimiter;
  /** Undefined when ffmpeg/ffprobe are not found: audio and video then get fewer details. */
  ffmpeg: FfmpegTools | undefined;
  /** Home feeds: a PostgreSQL table, or capped Redis sorted sets in front of it with REDIS_URL. */
  feeds: FeedStore;
  /** How many profile images this process cuts at once, inside requests; the others wait their turn. */
  squareImageSlots: TaskSlots;
  /** Messages between instances (live events, ended sessions): in-process, or Redis with REDIS_URL. */
  pubsub: PubSub;
  /** Each user's recent live events, for replay: in memory, or capped Redis streams with REDIS_URL. */
  streamBacklog: EventBacklog;
};

export type DepsOptions = {
  /** Where logs go; standard output when absent. */
  logStream?: NodeJS.WritableStream;
  /** Called after every SQL statement; tests count queries with it. */
  onQuery?: (event: LogEvent) => void;
};

/** How often pending top-ups are asked about at Stripe, and expired Idempotency-Keys are forgotten. */
const WALLET_JOB_INTERVALS = { settleTopupsMs: 60_000, sweepIdempotencyKeysMs: 3600_000 };

/** How often coalescing windows whose close job was lost are looked for. */
const PUSH_OVERDUE_CHECK_MS = 60_000;

const REQUEST_ID = /^[\w.\-:]{1,128}$/;

/** Opens the adapters the configuration asks for and brings the database schema up to date. */
export async function createDeps(config: Config, options: DepsOptions = {}): Promise<Deps> {
  const logger = createLogger(config.logLevel, options.logStream, config.logFormat);
  const database = await openDatabase(config, {
    onQuery: options.onQuery,
    onError: (error, context) => logger.error({ err: error }, `database: ${context}`),
  });
  let outbox: Outbox | undefined;
  try {
    await migrateToLatest(database);
    outbox = await openOutbox({ database, databaseUrl: config.databaseUrl, closeTimeoutMs: config.shutdownTimeoutMs, logger });
    const blobs = await openBlobStore({ localDir: join(config.dataDir, 'blobs'), s3: config.s3 });
    const ffmpeg = await findFfmpeg({
      FFMPEG_PATH: config.media.ffmpegPath,
      FFPROBE_PATH: config.media.ffprobePath,
      PATH: process.env.PATH,
    });
    if (ffmpeg === undefined) {
      logger.warn('ffmpeg/ffprobe not found (FFMPEG_PATH/FFPROBE_PATH, the @ffmpeg-installer/@ffprobe-installer packages, PATH): audio gets no waveform, video no duration, size or poster');
    }
    const redis = config.redisUrl === undefined ? undefined : { url: config.redisUrl, prefix: config.redisPrefix };
    const queue = await openJobQueue({
      redis,
      closeTimeoutMs: config.shutdownTimeoutMs,
      onError: (error) => logger.error({ err: error }, 'job queue: Redis error'),
    });
    const feeds = await openFeedStore({
      db: database.db,
      // A cache only: rebuilt from the database when missing, so it may live in a Redis that evicts.
      redis: redis === undefined || config.redisCacheUrl === undefined ? redis : { ...redis, url: config.redisCacheUrl },
      maxLength: config.feeds.maxLength,
      onError: (error) => logger.error({ err: error }, 'feeds: Redis error'),
    });
    const squareImageSlots = createSquareImageSlots();
    const rateLimiter = await openRateLimiter({ redis, maxKeys: config.rateLimitMaxKeys, onError: (error) => logger.error({ err: error }, 'rate limits: Redis error') });
    const pubsub = await openPubSub({ redis, onError: (error) => logger.error({ err: error }, 'pub/sub: Redis error') });
    const streamBacklog = await openBacklog({
      pubsub,
      redis,
      limits: { length: config.stream.backlogLength, ttlSeconds: config.stream.backlogTtlSeconds },
      onError: (error) => logger.error({ err: error }, 'stream backlog: Redis error'),
    });
    return {
      logger,
      database,
      outbox,
      blobs,
      queue,
      rateLimiter,
      ffmpeg,
      feeds,
      squareImageSlots,
      pubsub,
      streamBacklog,
    };
  } catch (error) {
    await outbox?.close();
    await database.close();
    throw error;
  }
}

/**
 * What one process does. `plaza serve` answers the API and, unless WORKERS=0, runs the background
 * work: jobs, the outbox relay and the catch-ups after a restart. `plaza worker` runs only that,
 * answering the health routes and `/metrics`.
 */
export type AppRole = { readonly api: boolean; readonly background: boolean };

export async function buildApp(config: Config, deps: Deps, role: AppRole = { api: true, background: config.backgroundWork }): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: proxyTrust(config.trustProxy),
    ...connectionOptions(config.connections),
    frameworkErrors: sendErrorAsProblem,
    requestIdHeader: false,
    // A request reaching a closing server is answered as usual (with `Connection: close`), not with
    // a 503: a balancer cannot send a POST elsewhere once it has passed it on.
    return503OnClosing: false,
    // Past it, the router answers 414 (through frameworkErrors), as refuseLongPathSegments does elsewhere.
    routerOptions: { maxParamLength: MAX_PATH_SEGMENT_LENGTH },
    schemaController: { compilersFactory: { buildSerializer: serializersCompiledOnFirstUse() } },
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  guardConnections(app, config.connections);
  decorateCaller(app);
  app.setValidatorCompiler(validatorCompiler());
  app.addHook('onRequest', refuseLongPathSegments);
  app.addHook('preValidation', rejectUnsafeInput);
  // Only JSON bodies are parsed by default; upload routes add their own parsers.
  app.removeContentTypeParser('text/plain');
  registerProblemHandlers(app);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  const handlers = trackHandlersInFlight(app);
  const draining = registerDraining(app);
  app.addHook('onClose', async () => {
    await handlers.drained(config.shutdownTimeoutMs);
    await deps.outbox.close();
    await deps.queue.close();
    await deps.feeds.close();
    await deps.streamBacklog.close();
    await deps.pubsub.close();
    await deps.blobs.close();
    await deps.rateLimiter.close();
    await deps.database.close();
  });

  registerSecurityHeaders(app);
  // Before any other route: it learns which top-level paths are Plaza's own (not the client's pages).
  if (role.api) {
    registerWebClient(app, {
      distDir: WEB_CLIENT_DIST,
      servedOverHttps: servedOverHttps(config.publicUrl),
      mediaOrigins: await bucketOrigins(deps.blobs, config.s3?.redirectDownloads ?? false),
    });
  }
  await app.register(cors, {
    origin: config.corsOrigins.includes('*') ? true : [...config.corsOrigins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: [
      'retry-after', 'x-request-id', 'location', 'www-authenticate',
      // what tus clients read
      'upload-offset', 'upload-length', 'upload-expires', 'upload-metadata', 'upload-defer-length',
      'tus-resumable', 'tus-version', 'tus-extension', 'tus-max-size',
    ],
    maxAge: 600,
  });
  const site = { version: packageVersion(), servedOverHttps: servedOverHttps(config.publicUrl) };
  await registerOpenApi(app, site);

  const { db } = deps.database;
  const accounts = createAccountsService({
    db,
    publicUrl: config.publicUrl,
    passwords: createPasswordHasher(config.passwordHashing),
  });
  const memos = createMemosService({ db });
  const media = createMediaService({
    db,
    outbox: deps.outbox,
    blobs: deps.blobs,
    queue: deps.queue,
    accounts,
    squareImageSlots: deps.squareImageSlots,
    signer: createLinkSigner(config.jwtSecret, config.media.signedUrlTtlSeconds),
    config: config.media,
    publicUrl: config.publicUrl,
    ffmpeg: deps.ffmpeg,
    logger: deps.logger,
    redirectDownloads: config.s3?.redirectDownloads ?? false,
  });
  const popular = createPopularUsers({ accounts, above: config.feeds.fanOutMaxFollowers });
  const social = createSocialService({ db, accounts, outbox: deps.outbox, popular, followMax: config.followMax });
  const posts = createPostsService({ db, accounts, media, social, outbox: deps.outbox, feeds: deps.feeds, logger: deps.logger });
  const timelines = createTimelinesService({ feeds: deps.feeds, posts, social });
  const stream = createStreamService({
    pubsub: deps.pubsub,
    backlog: deps.streamBacklog,
    // Called only when a stream opens, once auth (below) exists.
    sessions: { isSessionActive: (caller) => auth.isSessionActive(caller) },
    heartbeatMs: config.stream.heartbeatSeconds * 1000,
    maxBufferedBytes: config.stream.bufferBytes,
    logger: deps.logger,
  });
  // Open streams would hold the server's close until its timeout: they end first.
  app.addHook('preClose', async () => stream.close());
  const push = createPushService({ db, queue: deps.queue, config: config.push, dataDir: config.dataDir, logger: deps.logger });
  const notifications = createNotificationsService({ db, accounts, social, posts, deliveries: [stream.notificationDelivery, push.deliver], logger: deps.logger });
  const wallet = createWalletService({ db, outbox: deps.outbox, accounts, posts, adminEmails: config.adminEmails, config: config.wallet });
  // Stripe's SDK is some 200 modules, a tenth of a start: loaded only where payments are configured.
  const gateway = config.wallet.stripe === undefined ? undefined : (await import('./modules/wallet/stripe.ts')).createStripeGateway(config.wallet.stripe);
  const topups = createTopupsService({ db, config: config.wallet, gateway, logger: deps.logger });
  const auth = createAuthService({
    db,
    outbox: deps.outbox,
    accounts,
    media,
    counters: [social, posts],
    accessTokens: createAccessTokens(config.jwtSecret, config.accessTokenTtlSeconds),
    accessCache: new AccessCache({ ttlMs: config.authCacheSeconds * 1000 }),
    pubsub: deps.pubsub,
    sessionEnds: [stream.sessionsEnded],
    logger: deps.logger,
    rateLimiter: deps.rateLimiter,
    config,
  });
  await auth.listenForEndedSessions();
  const avatars = createAvatarsService({
    accounts,
    media,
    blobs: deps.blobs,
    maxBytes: config.media.avatarMaxBytes,
    logger: deps.logger,
    redirectDownloads: config.s3?.redirectDownloads ?? false,
  });
  const idTokens = createIdTokenVerifier({
    timeoutMs: config.social.providerTimeoutMs,
    refreshCooldownSeconds: config.social.jwksRefreshCooldownSeconds,
    logger: deps.logger,
  });
  const socialSignIn = createSocialSignInService({
    db,
    accounts,
    sessions: auth,
    idTokens,
    accessTokens: createAccessTokenVerifier({ timeoutMs: config.social.providerTimeoutMs, logger: deps.logger }),
    providers: config.social.providers,
    avatarCopy: createAvatarCopy({ avatars, timeoutMs: config.social.providerTimeoutMs, logger: deps.logger }),
  });
  const webSignIn = createWebSignIn({
    db,
    providers: config.social.providers,
    publicUrl: config.publicUrl,
    // The web client Plaza serves is always a place to come back to (its page only, on Plaza's own origin).
    redirectAllowlist: [...config.social.redirectAllowlist, ...(config.publicUrl === '' ? [] : [new URL(WEB_CLIENT_AUTH_RETURN, config.publicUrl).href])],
    timeoutMs: config.social.providerTimeoutMs,
    issuers: idTokens,
    socialSignIn,
    sessions: auth,
    logger: deps.logger,
  });
  // On PostgreSQL, instances share uploads (in S3), so they share their locks too; PGlite is one process.
  const uploadLocker = config.databaseUrl === undefined ? undefined : openPostgresLocker({
    url: config.databaseUrl,
    schema: deps.database.schema,
    onError: (error) => deps.logger.warn({ err: error }, 'uploads: the lock connection failed'),
  });
  if (uploadLocker !== undefined) app.addHook('onClose', async () => uploadLocker.close());
  const uploads = createUploadsService({ db, media, accounts, blobs: deps.blobs, config, logger: deps.logger, locker: uploadLocker });
  const sweepEveryMs = config.media.sweepIntervalSeconds * 1000;
  const jobs = [
    ...mediaJobs({
      db,
      blobs: deps.blobs,
      queue: deps.queue,
      ffmpeg: deps.ffmpeg,
      logger: deps.logger,
      accounts,
      graceSeconds: config.media.sweepGraceSeconds,
      everyMs: sweepEveryMs,
    }),
    ...uploadJobs(uploads, sweepEveryMs),
    ...walletJobs({ topups, wallet }, WALLET_JOB_INTERVALS),
    ...pushJobs(push, PUSH_OVERDUE_CHECK_MS),
  ];
  const outboxHandlers: AnyOutboxHandler[] = [
    // First: live readers hear of a post before its fan-out into feeds (see stream/outbox.ts).
    ...streamHandlers({ stream, social }),
    ...timelineHandlers({ feeds: deps.feeds, social, posts, backfillPosts: config.feeds.backfillPosts }),
    ...mediaOutboxHandlers({ queue: deps.queue, blobs: deps.blobs }),
    ...notificationHandlers({ notifications }),
  ];
  if (role.background) {
    const runningJobs = runJobs(deps.queue, jobs, deps.logger);
    app.addHook('onClose', async () => runningJobs.stop());
    deps.outbox.start(outboxHandlers);
    media.catchUp();
    await social.remarkPopular();
  }
  registerStreamMetrics(registerMetrics(app, { queue: deps.queue, names: jobs.map((job) => job.name) }, deps.outbox, config.metrics), stream);
  const signedIn = requireCaller(auth.authenticate);
  const maybeSignedIn = identifyCaller(auth.authenticate);

  const readinessChecks = {
    database: deps.database.ping,
    storage: deps.blobs.ping.bind(deps.blobs),
    ...(config.redisUrl !== undefined && { redis: deps.queue.ping.bind(deps.queue) }),
  };
  await app.register(serviceRoutes({ readinessChecks, draining }));
  // A worker answers only those.
  if (!role.api) return app;
  await app.register(icons());
  await app.register(authRoutes({ auth, requireCaller: signedIn }));
  await app.register(socialSignInRoutes({ socialSignIn, requireCaller: signedIn }));
  await app.register(
    webSignInRoutes({ webSignIn, requireCaller: signedIn, authenticate: auth.authenticate, secureCookie: config.publicUrl.startsWith('https:') }),
  );
  await app.register(accountRoutes({ accounts, requireCaller: signedIn }));
  await app.register(memoRoutes({ memos, requireCaller: signedIn }));
  await app.register(mediaRoutes({ media, mediaGrant: posts.mediaGrant, requireCaller: signedIn, identifyCaller: maybeSignedIn }));
  await app.register(avatarRoutes({ avatars, requireCaller: signedIn }));
  await app.register(recordingRoutes({ media, requireCaller: signedIn, identifyCaller: maybeSignedIn }));
  await app.register(uploadRoutes({ uploads, requireCaller: signedIn }));
  await app.register(socialRoutes({ social, requireCaller: signedIn, identifyCaller: maybeSignedIn }));
  await app.register(timelineRoutes({ timelines, requireCaller: signedIn }));
  await app.register(postRoutes({ posts, requireCaller: signedIn, identifyCaller: maybeSignedIn }));
  await app.register(walletRoutes({ wallet, topups, requireCaller: signedIn }));
  await app.register(notificationRoutes({ notifications, requireCaller: signedIn }));
  await app.register(pushRoutes({ push, requireCaller: signedIn }));
  await app.register(streamRoutes({ stream, requireCaller: requireCallerOrQueryToken(auth.authenticate) }));
  return app;
}

/** Where media links lead when downloads redirect to the bucket: the origin of its presigned links. */
async function bucketOrigins(blobs: BlobStore, redirectDownloads: boolean): Promise<string[]> {
  if (!redirectDownloads || blobs.directLink === undefined) return [];
  // Presigning is local arithmetic: no request reaches the bucket.
  const link = await blobs.directLink('web-client/origin', { expiresInSeconds: 60, contentType: 'image/png', contentDisposition: 'inline' });
  return [new URL(link).origin];
}
