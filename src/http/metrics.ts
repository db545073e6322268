import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Outbox, OutboxStats } from '#platform/outbox/types.ts';
import type { JobQueue } from '#platform/queue/types.ts';
import type { MetricsConfig } from '../config.ts';
import { errors } from './errors.ts';
import { problemResponses } from './openapi.ts';

/**
 * Prometheus metrics for one app: request counts and latency by route pattern (never by raw URL,
 * which would let clients grow the label set without bound), jobs by name and state, plus the
 * process defaults and the outbox's backlog. Only loopback, the addresses in `access.allow` and holders of `access.token` may
 * read them: they tell anyone how busy the server is and which routes fail.
 */
export function registerMetrics(
  app: FastifyInstance,
  jobs: { queue: JobQueue; names: readonly string[] },
  outbox: Pick<Outbox, 'stats'>,
  access: MetricsConfig,
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request to the end of its answer',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  new Gauge({
    name: 'jobs',
    help: 'Background jobs by name and state (waiting is the queue depth; finished ones as many as are kept)',
    labelNames: ['name', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const name of jobs.names) {
        for (const [state, count] of Object.entries(await jobs.queue.counts(name))) this.set({ name, state }, count);
      }
    },
  });

  // Both gauges come from one query: a scrape collects them side by side.
  let reading: Promise<OutboxStats> | undefined;
  const outboxStats = () => (reading ??= outbox.stats().finally(() => (reading = undefined)));
  new Gauge({
    name: 'outbox_backlog',
    help: 'Effects of committed writes not yet handled (outbox events)',
    registers: [registry],
    async collect() {
      this.set((await outboxStats()).backlog);
    },
  });
  new Gauge({
    name: 'outbox_oldest_event_age_seconds',
    help: 'Age of the oldest outbox event not yet handled (0 when there is none)',
    registers: [registry],
    async collect() {
      this.set((await outboxStats()).oldestAgeSeconds);
    },
  });

  const dropped = new Counter({
    name: 'http_connections_dropped_total',
    help: 'Connections closed on arrival because MAX_CONNECTIONS were open',
    registers: [registry],
  });
  app.server.on('drop', () => dropped.inc());

  app.addHook('onResponse', (request, reply, done) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status_code: String(reply.statusCode),
    };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
    done();
  });

  const mayRead = metricsReaders(access);
  const onRequest = async (request: FastifyRequest) => {
    if (!mayRead(request)) {
      throw errors.forbidden('Metrics are readable from loopback, the addresses in METRICS_ALLOW, or with the METRICS_TOKEN bearer token');
    }
  };
  const schema = {
    tags: ['service'],
    summary: 'Prometheus metrics',
    description: 'Readable from loopback, from the addresses in METRICS_ALLOW, or with the METRICS_TOKEN bearer token; 403 for others.',
    response: {
      200: { description: 'The Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
      ...problemResponses(403),
    },
  };
  app.get('/metrics', { onRequest, schema }, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
  return registry;
}

/** Whether a request may read the metrics: by its client address (as TRUST_PROXY resolves it), or its bearer token. */
function metricsReaders(access: MetricsConfig): (request: FastifyRequest) => boolean {
  const allowed = new BlockList();
  for (const entry of ['127.0.0.0/8', '::1', ...access.allow]) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) allowed.addAddress(address, family);
    else allowed.addSubnet(address, Number(prefix), family);
  }
  const digest = (text: string) => createHash('sha256').update(text).digest();
  const token = access.token === undefined ? undefined : digest(`Bearer ${access.token}`);
  return (request) => {
    const family = isIP(request.ip ?? '');
    if (family !== 0 && allowed.check(request.ip, family === 6 ? 'ipv6' : 'ipv4')) return true;
    const given = request.headers.authorization;
    return token !== undefined && given !== undefined && timingSafeEqual(digest(given), token);
  };
}
