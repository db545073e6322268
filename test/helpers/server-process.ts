import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, servicesDatabaseUrl } from './database.ts';
import type { Answer } from './http.ts';
import { servicesForTestApp } from './services.ts';

/** `plaza serve` as its own process, as an operator runs it: for tests that kill it and start it again. */

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;
const START_TIMEOUT_MS = 30_000;

/**
 * What a server process stores into, kept across restarts: a fresh DATA_DIR, and in the services run
 * a PostgreSQL database, a Redis key prefix and an S3 bucket of its own. `release` removes it all.
 */
export type ServerStorage = { readonly env: Readonly<Record<string, string>>; release(): Promise<void> };

export async function serverStorage(): Promise<ServerStorage> {
  const dataDir = mkdtempSync(join(tmpdir(), 'plaza-process-'));
  const database = servicesDatabaseUrl === undefined ? undefined : await createTestDatabase(servicesDatabaseUrl);
  const services = await servicesForTestApp();
  const env = {
    PATH: process.env.PATH ?? '',
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    // One secret for every start: tokens from before a restart still work after it.
    JWT_SECRET: randomBytes(32).toString('hex'),
    // Tests sign many users up from 127.0.0.1, and at once.
    SIGNUP_RATE_LIMIT_PER_IP: '100000',
    PASSWORD_HASH_QUEUE: '100000',
    // No balancer to wait for: stop() ends at once. Tests of the drain set it.
    SHUTDOWN_DRAIN_MS: '0',
    ...(database !== undefined && { DATABASE_URL: database.url }),
    ...services.env,
  };
  return {
    env,
    async release() {
      await database?.drop();
      await services.release();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type ServerProcess = {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it wrote to standard output and error. */
  output(): string;
  /** SIGKILL, no chance to finish anything; resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM: drains and exits as in production; resolves once it is gone. */
  stop(): Promise<void>;
};

/** Starts `plaza serve` (or `plaza worker`) on `env` (PORT=0 picks a free port) and resolves once it listens. */
export async function startServer(env: Readonly<Record<string, string>>, command: 'serve' | 'worker' = 'serve'): Promise<ServerProcess> {
  const child = spawn(process.execPath, [MAIN, command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  };
  const server = { child, output: () => output, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
  try {
    return { ...server, url: await listeningUrl(child, server.output) };
  } catch (error) {
    await server.kill();
    throw error;
  }
}

function listeningUrl(child: ChildProcess, output: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listen line within ${START_TIMEOUT_MS} ms:\n${output()}`)), START_TIMEOUT_MS);
    child.stdout?.on('data', () => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output());
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      resolve(match[1]);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${signal ?? code}) before listening:\n${output()}`));
    });
  });
}

/**
 * Sends one request and SIGKILLs the server in the same tick as a 2xx status line arrives: the
 * process gets no time to do anything after answering. Resolves with the answer (its body, which
 * travels with the status line, is read after the kill).
 */
export function killOnSuccess(
  server: ServerProcess,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<Answer> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const sent = request(new URL(path, server.url), {
      method,
      headers: {
        ...(options.token !== undefined && { authorization: `Bearer ${options.token}` }),
        ...(body !== undefined && { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
      },
    });
    sent.on('error', reject);
    sent.on('response', (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) server.child.kill('SIGKILL');
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('error', reject);
      response.on('end', () => {
        const json = (response.headers['content-type'] ?? '').includes('json') && text !== '';
        resolve({ status, headers: new Headers(response.headers as Record<string, string>), body: json ? JSON.parse(text) : text, text });
      });
    });
    sent.end(body);
  });
}
