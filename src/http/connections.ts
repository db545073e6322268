import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { ConnectionsConfig, TrustProxy } from '../config.ts';
import { answerClientError } from './problems.ts';

/**
 * Sockets whose current request streams an upload to storage. Node's request timeout counts from a
 * request's first byte to the end of its body, which would cut off any large upload: these are bound
 * by the idle timeout instead, for as long as bytes keep coming.
 */
const streamingUploads = new WeakSet<Socket>();
/** Sockets reading and dropping the rest of a body that was answered before it arrived. */
const lingering = new WeakSet<Socket>();

/** Node checks headers and request deadlines on a timer; often enough for them to hold within a quarter. */
const MAX_CHECK_INTERVAL_MS = 1_000;

/**
 * Fastify's `trustProxy` for TRUST_PROXY. Fastify no longer takes a hop count (it cannot tell a
 * proxy from a client that connects directly), so one is a trust function here: the nearest `hops`
 * peers are believed whoever they are, which is sound only where clients cannot reach Plaza but
 * through those proxies. A list names the proxies, which holds everywhere.
 */
export function proxyTrust(trust: TrustProxy): false | string[] | ((address: string, hop: number) => boolean) {
  if (trust === false) return false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return [...trust];
}

/** The Fastify constructor options that bound how long a connection may take over each step. */
export function connectionOptions(
  settings: ConnectionsConfig,
): Pick<FastifyServerOptions, 'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout' | 'clientErrorHandler'> & {
  http: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number };
} {
  return {
    // Fastify passes this to server.setTimeout: a socket on which nothing moves for so long is destroyed.
    connectionTimeout: settings.idleTimeoutMs,
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    // Given to http.createServer, which checks the headers timeout against the request timeout.
    http: {
      headersTimeout: settings.headersTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(10, Math.min(MAX_CHECK_INTERVAL_MS, Math.floor(settings.headersTimeoutMs / 4))),
    },
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => {
      if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        // Node has stopped timing this request; the idle timeout still applies.
        if (streamingUploads.has(socket)) return;
        // Its answer has gone already: a second one would be read as the answer to the next request.
        if (lingering.has(socket)) return void socket.destroy();
      }
      answerClientError(error, socket);
    },
  };
}

/**
 * Caps the number of open connections (Node closes new ones past it) and gives answers sent before
 * their request's body arrived — a 413, a 401 on an upload — a lingering close.
 */
export function guardConnections(app: FastifyInstance, settings: ConnectionsConfig): void {
  app.server.maxConnections = settings.maxConnections;
  app.addHook('onSend', (request, reply, payload, done) => {
    // Still attached to the answer here (a body destroyed mid-upload no longer knows its socket).
    // Requests made with `app.inject` have a stand-in instead, with no connection to linger on.
    const socket = reply.raw.socket;
    if (socket instanceof Socket) {
      streamingUploads.delete(socket);
      if (!request.raw.complete) {
        // Closing at once would destroy the socket while the client still writes: its kernel would
        // then reset the connection and drop our answer unread.
        if (reply.getHeader('connection') === 'close') reply.removeHeader('connection');
        lingering.add(socket);
        reply.raw.once('finish', () => discardRestOfBody(request.raw, socket, settings));
      }
    }
    done(null, payload);
  });
}

/**
 * Makes the requests of `app` (an encapsulated plugin whose routes stream bodies to storage) exempt
 * from the request timeout: an upload may take as long as it needs while bytes keep arriving.
 */
export function exemptFromRequestTimeout(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.raw.socket instanceof Socket) streamingUploads.add(request.raw.socket);
    done();
  });
}

/**
 * What nginx calls a lingering close: the rest of the body is read and dropped, so the client, still
 * writing, gets to read the answer. Past `lingerMaxBytes` nothing more is read; `lingerTimeoutMs`
 * after the answer the connection is closed. A body that ends in time leaves the connection usable.
 */
function discardRestOfBody(body: IncomingMessage, socket: Socket, settings: ConnectionsConfig): void {
  if (socket.destroyed) return;
  let discarded = 0;
  const deadline = setTimeout(() => socket.destroy(), settings.lingerTimeoutMs);
  const stop = () => {
    clearTimeout(deadline);
    lingering.delete(socket);
    body.off('end', stop);
    socket.off('close', stop);
  };
  body.once('end', stop);
  socket.once('close', stop);
  body.unpipe();
  body.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded >= settings.lingerMaxBytes) body.pause();
  });
  body.resume();
}
