/**
 * A private, throwaway Redis for test runs: loopback only, a free port, no persistence, its files in
 * a temporary directory that `stop` removes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { aptInstall, freePort, type Service } from './common.ts';

const REDIS_SERVER = 'redis-server';

export async function startRedis(signal: AbortSignal): Promise<Service> {
  if (!hasRedisServer()) await aptInstall('redis-server', signal);
  const dir = mkdtempSync(join(tmpdir(), 'plaza-redis-'));
  const port = await freePort();
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no'];
  const server = spawn(REDIS_SERVER, args, { cwd: dir, signal, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  server.on('error', () => {}); // spawn failures and aborts also end in 'exit', which is what counts
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };

  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitForPing(url, server, signal);
    return { url, env: { REDIS_URL: url }, stop };
  } catch (error) {
    await stop();
    throw new Error(`Redis did not start: ${error instanceof Error ? error.message : String(error)}\n${output}`);
  }
}

export function hasRedisServer(): boolean {
  return spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Retries PING until the server answers, giving up when it exits or after 30 s. */
async function waitForPing(url: string, server: ChildProcess, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) throw new Error('redis-server exited');
    try {
      return await pingRedis(url);
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await sleep(50, undefined, { signal });
  }
}

/** Resolves when the Redis at `url` answers PING; rejects at once when it cannot be reached. */
export async function pingRedis(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let connectionError: Error | undefined;
  client.on('error', (error: Error) => (connectionError = error));
  try {
    await client.connect();
    const reply = await client.ping();
    if (reply !== 'PONG') throw new Error(`PING answered ${reply}`);
  } catch (error) {
    throw connectionError ?? error; // e.g. ECONNREFUSED rather than "Connection is closed"
  } finally {
    // A client whose connection failed has ended already; disconnecting it would arm a 2 s timer.
    if (client.status !== 'end') client.disconnect();
  }
}
