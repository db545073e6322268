import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import type { Config } from './config.ts';
import { openDatabase, type DatabaseHandle, type DatabaseOptions } from './platform/db/database.ts';
import { migrateToLatest } from './platform/db/migrate.ts';
import { MemoryRateLimiter } from './platform/ratelimit/memory.ts';
import type { RateLimiter } from './platform/ratelimit/types.ts';
import { requireCaller } from './http/auth.ts';
import { trackHandlersInFlight } from './http/in-flight.ts';
import { loggerOptions } from './http/logging.ts';
import { registerMetrics } from './http/metrics.ts';
import { registerOpenApi } from './http/openapi.ts';
import { registerProblemHandlers, sendErrorAsProblem } from './http/problems.ts';
import { registerSecurityHeaders } from './http/security-headers.ts';
import { serviceRoutes } from './http/service-routes.ts';
import { rejectNulCharacters, validatorCompiler } from './http/validation.ts';
import { accountRoutes } from './modules/accounts/routes.ts';
import { createAccountsService } from './modules/accounts/service.ts';
import { authRoutes } from './modules/auth/routes.ts';
import { createAuthService } from './modules/auth/service.ts';
import { AccessCache } from './modules/auth/access-cache.ts';
import { createAccessTokens } from './modules/auth/tokens.ts';
import { memoRoutes } from './modules/memos/routes.ts';
import { createMemosService } from './modules/memos/service.ts';

/** The adapters an app runs on, built once per process (or per test) and closed with the app. */
export type Deps = {
  database: DatabaseHandle;
  rateLimiter: RateLimiter;
  /** Where logs go; standard output when absent. */
  logStream?: NodeJS.WritableStream;
};

const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
const REQUEST_ID = /^[\w.\-:]{1,128}$/;

/** Opens the adapters the configuration asks for and brings the database schema up to date. */
export async function createDeps(config: Config, options: DatabaseOptions = {}): Promise<Deps> {
  const database = await openDatabase(config, options);
  try {
    await migrateToLatest(database);
  } catch (error) {
    await database.close();
    throw error;
  }
  return { database, rateLimiter: new MemoryRateLimiter() };
}

export async function buildApp(config: Config, deps: Deps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config.logLevel, deps.logStream),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    frameworkErrors: sendErrorAsProblem,
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  app.setValidatorCompiler(validatorCompiler());
  app.addHook('preValidation', rejectNulCharacters);
  // Only JSON bodies are parsed by default; upload routes add their own parsers.
  app.removeContentTypeParser('text/plain');
  registerProblemHandlers(app);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  const handlers = trackHandlersInFlight(app);
  app.addHook('onClose', async () => {
    await handlers.drained(config.shutdownTimeoutMs);
    await deps.rateLimiter.close();
    await deps.database.close();
  });

  registerSecurityHeaders(app);
  await app.register(cors, {
    origin: config.corsOrigins.includes('*') ? true : [...config.corsOrigins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: ['retry-after', 'x-request-id', 'location'],
    maxAge: 600,
  });
  await registerOpenApi(app, VERSION);
  registerMetrics(app);

  const { db } = deps.database;
  const accounts = createAccountsService({ db });
  const auth = createAuthService({
    db,
    accounts,
    accessTokens: createAccessTokens(config.jwtSecret, config.accessTokenTtlSeconds),
    accessCache: new AccessCache({ ttlMs: config.authCacheSeconds * 1000 }),
    rateLimiter: deps.rateLimiter,
    config,
  });
  const memos = createMemosService({ db });
  const signedIn = requireCaller(auth.authenticate);

  await app.register(serviceRoutes({ database: deps.database }));
  await app.register(authRoutes({ auth, requireCaller: signedIn }));
  await app.register(accountRoutes({ accounts, requireCaller: signedIn }));
  await app.register(memoRoutes({ memos, requireCaller: signedIn }));
  return app;
}
