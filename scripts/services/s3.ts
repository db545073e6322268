/**
 * A throwaway S3-compatible server for test runs: s3rver, in a child process of its own, on a free
 * loopback port, keeping its files in a temporary directory that `stop` removes.
 *
 * `node --openssl-legacy-provider scripts/services/s3.ts <dir>` runs that child by hand; it prints
 * `{"port":…}` once listening and exits when its stdin closes (so it never outlives its parent).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Service } from './common.ts';

const BUCKET = 'plaza';
const CREDENTIALS = 'S3RVER'; // s3rver accepts only this key id and secret

export async function startS3(signal: AbortSignal): Promise<Service> {
  const directory = mkdtempSync(join(tmpdir(), 'plaza-s3-'));
  // s3rver's list continuation tokens use DES, which OpenSSL 3 leaves out unless asked for: without
  // the legacy provider every listing longer than one page fails with a 500.
  const child = spawn(process.execPath, ['--openssl-legacy-provider', fileURLToPath(import.meta.url), directory], {
    signal,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.on('error', () => {}); // an abort kills it; the missing port below is the error to report
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    }
    rmSync(directory, { recursive: true, force: true });
  };

  const port = await listeningPort(child.stdout);
  if (port === undefined) {
    await stop();
    signal.throwIfAborted();
    throw new Error('s3rver exited before listening');
  }
  const url = `http://127.0.0.1:${port}`;
  const env = {
    S3_ENDPOINT: url,
    S3_BUCKET: BUCKET,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: CREDENTIALS,
    S3_SECRET_ACCESS_KEY: CREDENTIALS,
    S3_FORCE_PATH_STYLE: 'true',
  };
  return { url, stop, env };
}

/** The port the child prints on its first line, or `undefined` when it ends without one. */
async function listeningPort(output: NodeJS.ReadableStream): Promise<number | undefined> {
  for await (const line of createInterface({ input: output })) return (JSON.parse(line) as { port: number }).port;
  return undefined;
}

/** The part of s3rver (a CommonJS package without type declarations) used here. */
type S3rver = { run(): Promise<AddressInfo> };
type S3rverOptions = {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
};

async function serve(directory: string): Promise<void> {
  const S3rver = createRequire(import.meta.url)('s3rver') as new (options: S3rverOptions) => S3rver;
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = await server.run();
  process.stdin.on('end', () => process.exit(0)).resume();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

if (import.meta.main) {
  const directory = process.argv[2];
  if (directory === undefined) throw new Error('usage: node --openssl-legacy-provider scripts/services/s3.ts <dir>');
  await serve(directory);
}
