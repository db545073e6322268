import autocannon from 'autocannon';
import { percentile } from './stats.ts';

/** One HTTP request, repeated by every connection for the whole measurement. */
export type LoadRequest = {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
};

export type Measurement = { requestsPerSecond: number; p50Ms: number; p99Ms: number };

export type LoadOptions = { connections: number; seconds: number };

/** Sends `request` over `connections` keep-alive connections for `seconds`; every answer must be 2xx. */
export async function measureLoad(baseUrl: string, request: LoadRequest, options: LoadOptions): Promise<Measurement> {
  const latenciesMs: number[] = [];
  const run = autocannon({
    url: `${baseUrl}${request.path}`,
    connections: options.connections,
    duration: options.seconds,
    method: request.method,
    headers: request.headers ?? {},
    ...(request.body !== undefined && { body: request.body }),
  });
  // autocannon's own histogram keeps whole milliseconds, too coarse for answers that take a few.
  run.on('response', (_client, _status, _bytes, responseTimeMs) => latenciesMs.push(responseTimeMs));
  const errorKinds = new Set<string>();
  run.on('reqError', (error) => errorKinds.add(error.code ?? error.message));
  const result = await run;
  if (result.errors > 0 || result.non2xx > 0) {
    const statuses = Object.entries(result.statusCodeStats).map(([status, { count }]) => `${status}×${count}`);
    throw new Error(
      `${request.method} ${baseUrl}${request.path}: ${result.errors} connection errors ` +
        `(${result.timeouts} timeouts${errorKinds.size > 0 ? `; ${[...errorKinds].join(', ')}` : ''}), ` +
        `${result.non2xx} answers not 2xx (${statuses.join(', ')})`,
    );
  }
  latenciesMs.sort((a, b) => a - b);
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: percentile(latenciesMs, 50),
    p99Ms: percentile(latenciesMs, 99),
  };
}
