import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Draining } from './draining.ts';

const READINESS_TIMEOUT_MS = 2_000;
/**
 * Readiness asked again within this long of the last check gets that check's answer (one in flight
 * serves every caller): the route is open to anyone, and each check costs a database round trip and
 * a storage request (billed, on S3).
 */
const READINESS_REUSE_MS = 1_000;

type ReadinessReport = { ready: boolean; checks: Record<string, 'up' | 'down'> };

/** The readiness report, described as the answer it is. */
const readinessAnswer = (description: string) =>
  Type.Object(
    {
      status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable'), Type.Literal('shutting_down')], {
        description: '`shutting_down` from SIGTERM on: the instance still answers for SHUTDOWN_DRAIN_MS, then stops accepting',
      }),
      checks: Type.Record(Type.String(), Type.Union([Type.Literal('up'), Type.Literal('down')]), { description: 'Each dependency by name' }),
    },
    { description },
  );

/** A dependency's health check: resolves when it answers. */
export type ReadinessCheck = () => Promise<void>;

/** Liveness, readiness and the plain-text ping load balancers and uptime checks use. */
export function serviceRoutes(deps: { readinessChecks: Record<string, ReadinessCheck>; draining: Draining }): FastifyPluginAsync {
  const readiness = reusedFor(READINESS_REUSE_MS, () => checkReadiness(deps.readinessChecks));
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['service'];

    app.get(
      '/ping',
      {
        schema: {
          tags,
          summary: 'Answers pong',
          response: { 200: { description: 'The word pong', content: { 'text/plain': { schema: Type.Literal('pong') } } } },
        },
      },
      async (_request, reply) => reply.type('text/plain; charset=utf-8').send('pong'),
    );

    app.get(
      '/healthz',
      {
        schema: {
          tags,
          summary: 'The process is alive (liveness)',
          response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'Alive' }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/readyz',
      {
        schema: {
          tags,
          summary: 'Every backing service answers (readiness)',
          description: `The database, object storage and Redis (when configured), each within ${READINESS_TIMEOUT_MS / 1000} s; checked at most once every ${READINESS_REUSE_MS / 1000} s. From SIGTERM on, 503 \`shutting_down\` at once.`,
          response: { 200: readinessAnswer('Every check is up'), 503: readinessAnswer('Some check is down, or the instance is shutting down') },
        },
      },
      async (_request, reply) => {
        // Checked first: a balancer must stop sending here even while every dependency answers.
        if (deps.draining.active) return reply.code(503).send({ status: 'shutting_down', checks: {} });
        const { ready, checks } = await readiness();
        return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', checks });
      },
    );
  };
}

async function checkReadiness(readinessChecks: Record<string, ReadinessCheck>): Promise<ReadinessReport> {
  const names = Object.keys(readinessChecks);
  const results = await Promise.all(Object.values(readinessChecks).map((check) => answersWithin(check(), READINESS_TIMEOUT_MS)));
  const checks = Object.fromEntries(names.map((name, i) => [name, results[i] ? ('up' as const) : ('down' as const)]));
  return { ready: results.every(Boolean), checks };
}

/** `run`, started at most once per `ms`: calls in between share the last run's promise. */
function reusedFor<T>(ms: number, run: () => Promise<T>): () => Promise<T> {
  let last: { startedAt: number; result: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (last === undefined || now - last.startedAt >= ms) last = { startedAt: now, result: run() };
    return last.result;
  };
}

async function answersWithin(check: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([check.then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
