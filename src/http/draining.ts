import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Shutdown's first step (SIGTERM): `/readyz` answers 503 and every response closes its
     * connection, while the server still takes and answers requests. `app.close()` follows.
     */
    startDraining(): void;
  }
}

/**
 * How long after the server stops listening its idle connections are closed. Node closes them at
 * once, and a connection accepted just before, its request not yet read, counts as idle: closed
 * then, the balancer that sent the request gets a reset, and does not retry a POST.
 */
const IDLE_CLOSE_DELAY_MS = 1_000;

/** Whether shutdown has begun, for `/readyz`. */
export type Draining = { readonly active: boolean };

/**
 * While draining, each response carries `Connection: close`: a balancer's kept-alive connection
 * ends right after an answer, which the balancer reads, instead of being closed under it later
 * (a request it sent there meanwhile would be lost, and a POST is not retried).
 */
export function registerDraining(app: FastifyInstance): Draining {
  const state = { active: false };
  app.decorate('startDraining', () => {
    if (state.active) return;
    state.active = true;
    // By then every answer has closed its connection: what is still idle is a fresh connection
    // (read meanwhile, answered, closed) or a client's left open, closed after the delay.
    const closeIdle = app.server.closeIdleConnections.bind(app.server);
    app.server.closeIdleConnections = () => void setTimeout(closeIdle, IDLE_CLOSE_DELAY_MS).unref();
  });
  // A callback hook: an async one costs every request a promise.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (state.active) reply.header('connection', 'close');
    done(null, payload);
  });
  return state;
}
