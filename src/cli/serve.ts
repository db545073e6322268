import { flushCompileCache } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { buildApp, createDeps, type AppRole } from '../app.ts';
import type { Config } from '../config.ts';
import { ensureWebClientBuilt } from '../http/web-client-build.ts';
import { HEAP_TRIM_DEFAULTS, trimHeapWhenIdle, trimMallocHeap } from '../platform/heap-trim.ts';
import { CliError } from './errors.ts';
import { startupSummary } from './startup-summary.ts';

/**
 * `plaza serve`: the HTTP server, until SIGTERM or SIGINT. SIGTERM (what an orchestrator sends)
 * first drains for SHUTDOWN_DRAIN_MS: `/readyz` answers 503 while requests are still served, so a
 * balancer stops sending; SIGINT (Ctrl-C at a terminal) skips that. Then it stops accepting, tells
 * open streams to reconnect, finishes requests in flight and exits.
 */
export async function serve(config: Config): Promise<void> {
  await run(config, { api: true, background: config.backgroundWork });
}

/**
 * `plaza worker`: a scaled-out deployment's background work (jobs, the outbox relay), beside web
 * instances started with WORKERS=0, answering only the health routes and `/metrics` on PORT.
 */
export async function work(config: Config): Promise<void> {
  if (config.databaseUrl === undefined || config.redisUrl === undefined) {
    throw new CliError('plaza worker shares the work of `plaza serve` instances through DATABASE_URL and REDIS_URL: set both (on the embedded database, `plaza serve` does all of it itself)');
  }
  await run(config, { api: false, background: true });
}

async function run(config: Config, role: AppRole): Promise<void> {
  const deps = await createDeps(config);
  if (role.api) await buildWebClientIfStale(deps.logger);
  const app = await buildApp(config, deps, role);
  const stopTrimming = trimHeapWhenIdle({ ...HEAP_TRIM_DEFAULTS, trim: trimMallocHeap, logger: app.log });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    stopTrimming();
    const drainMs = signal === 'SIGTERM' ? config.shutdownDrainMs : 0;
    if (drainMs > 0) {
      app.log.info({ signal, drainMs }, 'shutting down: /readyz answers 503, still serving while balancers notice');
      app.startDraining();
      await sleep(drainMs);
    }
    app.log.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
    app.startDraining();
    // A request that never ends must not keep the process alive forever.
    const deadline = setTimeout(() => {
      app.log.error(`shutdown took longer than ${config.shutdownTimeoutMs} ms; exiting`);
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    await app.close();
    clearTimeout(deadline);
    app.log.info('stopped');
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  const url = await listen(app, config);
  // Every module a start needs is loaded by now: the next start reads them even if this one is killed.
  flushCompileCache();
  const { message, summary } = await startupSummary(config, role, deps.ffmpeg, url);
  app.log.info(summary, message);
}

/**
 * `npm start` gives the web client too: built here when web/dist is missing or older than web/'s
 * sources (a second or so). A failed build leaves the API serving, and `/` saying how to build it.
 */
async function buildWebClientIfStale(logger: FastifyBaseLogger): Promise<void> {
  try {
    const outcome = await ensureWebClientBuilt();
    if (outcome.built) logger.info({ ms: outcome.ms, reason: outcome.reason }, `web client: built web/dist (it was ${outcome.reason}) in ${outcome.ms} ms`);
  } catch (error) {
    logger.warn({ err: error }, 'web client: not built, / answers 503 until `npm run build:web` succeeds');
  }
}

/** Listens, or closes the app and says in one line what to change when the address cannot be had. */
async function listen(app: FastifyInstance, config: Config): Promise<string> {
  try {
    return await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    const explained = explainListenFailure(error as NodeJS.ErrnoException, config);
    if (explained === undefined) throw error;
    await app.close();
    throw explained;
  }
}

function explainListenFailure(error: NodeJS.ErrnoException, { port, host }: Config): CliError | undefined {
  switch (error.code) {
    case 'EADDRINUSE':
      return new CliError(`Port ${port} is already in use (EADDRINUSE) on ${host}; stop the other server or set PORT to a free port (PORT=0 picks one).`);
    case 'EACCES':
      return new CliError(`Port ${port} is privileged and this user may not listen on it (EACCES); set PORT to 1024 or above (a reverse proxy can take port ${port}).`);
    case 'EADDRNOTAVAIL':
      return new CliError(`HOST ${host} is not an address of this machine (EADDRNOTAVAIL); set HOST=127.0.0.1, or HOST=0.0.0.0 for every address.`);
    default:
      return undefined;
  }
}
