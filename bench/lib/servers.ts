import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from '../../scripts/services/common.ts';
import { withCleanup } from './cleanup.ts';

/** A Node script to run as an HTTP server on 127.0.0.1, told its port through `PORT`. */
export type ServerSpec = {
  name: string;
  script: string;
  args?: string[];
  env: Record<string, string>;
};

export type RunningServer = {
  url: string;
  pid: number;
  /** From spawning the process until `/readyz` first answered 200 (polled every 25 ms). */
  readySeconds: number;
  stop(): Promise<void>;
};

const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 25;
const STOP_TIMEOUT_MS = 20_000;
const OUTPUT_TAIL_CHARS = 4_000;

const running = new Set<ChildProcess>();
// Whatever way the bench ends, no server outlives it.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts a server, runs `body` against it, and stops it however `body` ends. */
export async function withServer<T>(spec: ServerSpec, body: (server: RunningServer) => Promise<T>): Promise<T> {
  const server = await startServer(spec);
  return withCleanup(server.stop, () => body(server));
}

async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const port = await freePort();
  const spawned = performance.now();
  const child = spawn(process.execPath, [spec.script, ...(spec.args ?? [])], {
    env: { ...inheritedEnv(), ...spec.env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = once(child, 'exit').then(() => void running.delete(child));
  const output = keepTail(child);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopChild(child, exited).then(() => reportOutput(spec.name, output())));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(url, exited);
  } catch (error) {
    await stop();
    throw new Error(`${spec.name} did not become ready: ${(error as Error).message}`);
  }
  return { url, pid: child.pid!, readySeconds: (performance.now() - spawned) / 1000, stop };
}

/** Only what Node needs: a Plaza variable set in the caller's shell must not leak into a profile. */
function inheritedEnv(): Record<string, string> {
  const names = ['PATH', 'HOME', 'TMPDIR'].filter((name) => process.env[name] !== undefined);
  return Object.fromEntries(names.map((name) => [name, process.env[name]!]));
}

/** The last few kilobytes a server printed. Reading also keeps its pipes from filling. */
function keepTail(child: ChildProcess): () => string {
  let tail = '';
  const append = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => tail;
}

/** Servers run with warnings and errors only, so anything they print deserves a look. */
function reportOutput(name: string, output: string): void {
  if (output.trim() === '') return;
  console.warn(`--- ${name} printed (last ${OUTPUT_TAIL_CHARS} characters at most):\n${output.trimEnd()}\n---`);
}

async function waitUntilReady(url: string, exited: Promise<void>): Promise<void> {
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited) throw new Error('the process exited');
    const ready = await fetch(`${url}/readyz`).then((response) => response.ok, () => false);
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  throw new Error(`no answer from /readyz within ${READY_TIMEOUT_MS} ms`);
}

/**
 * Asks for a graceful stop (PGlite must close its files before the next process opens them), then
 * insists. Call it once: a second SIGTERM would kill a server that is still closing.
 */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
