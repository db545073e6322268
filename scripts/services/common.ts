/** What the throwaway services of a test run share: how to run commands, find ports, install packages. */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { constants } from 'node:os';

/** A running service: the variables that point the app at it, and how to get rid of it again. */
export type Service = { readonly url: string; readonly env: Readonly<Record<string, string>>; stop(): Promise<void> };

export type RunOptions = {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Kills the command on abort. Left out for cleanup commands, which must run after a signal. */
  readonly signal?: AbortSignal;
  /** Show the output live (test run, apt-get); otherwise it is captured and shown on failure. */
  readonly inherit?: boolean;
};
export type RunResult = { readonly code: number };

/**
 * Runs a command to completion. Helper commands must succeed (a failure throws with their output);
 * with `inherit` the exit code is returned instead, since the test run's code is the script's.
 */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const { env, cwd, signal, inherit = false } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, signal, stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    let spawnError: Error | undefined;
    child.on('error', (error) => (spawnError = error)); // includes AbortError; 'close' still follows
    child.on('close', (code, killedBy) => {
      const exitCode = code ?? signalExitCode(killedBy ?? 'SIGTERM');
      if (spawnError && spawnError.name !== 'AbortError') reject(spawnError);
      else if (inherit && !signal?.aborted) resolve({ code: exitCode });
      else if (exitCode === 0) resolve({ code: 0 });
      else reject(new Error(`${command} ${args.join(' ')} exited with ${exitCode}\n${output}`));
    });
  });
}

/** Installs a Debian package (a fresh CI image lacks the servers); only root can. */
export async function aptInstall(pkg: string, signal: AbortSignal): Promise<void> {
  if (!isRoot()) throw new Error(`${pkg} is not installed; install the Debian package ${pkg}`);
  log(`${pkg}: not installed, installing the Debian package`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-q'], { env, signal, inherit: true });
  const { code } = await run('apt-get', ['install', '-y', '-q', pkg], { env, signal, inherit: true });
  if (code !== 0) throw new Error(`apt-get install ${pkg} exited with ${code}`);
}

/** A port that was free a moment ago: the OS picks one for port 0, which is released again. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Shell convention: 128 + the signal number. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 15);
}

export function log(message: string): void {
  console.error(`[test-services] ${message}`);
}
