/**
 * `npm run test:services [-- <test files or node --test options>]`
 *
 * Runs the test suite against real backing services instead of the embedded defaults. Each service
 * comes from its environment variable when set (e.g. DATABASE_URL), otherwise a private, throwaway
 * instance is started for the run and always torn down afterwards. Exits with the test run's code.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** A running service: the URL the app is given, and how to get rid of it again. */
type Service = { readonly url: string; stop(): Promise<void> };

type ServiceSpec = {
  readonly name: string;
  /** The variable the app reads; when already set, that service is used as is. */
  readonly envVar: string;
  start(signal: AbortSignal): Promise<Service>;
};

// Redis and S3 slot in here once the app uses them.
const SERVICES: readonly ServiceSpec[] = [{ name: 'PostgreSQL', envVar: 'DATABASE_URL', start: startPostgres }];

const DEFAULT_TESTS = 'test/**/*.test.ts'; // expanded by node's test runner, not a shell
const PG_ROOT = '/usr/lib/postgresql';

// Ctrl-C / SIGTERM abort whatever is in flight (child processes included); cleanup still runs.
const abort = new AbortController();
let receivedSignal: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    receivedSignal ??= signal;
    abort.abort();
  });
}

process.exit(await main(process.argv.slice(2)));

async function main(args: string[]): Promise<number> {
  const env = { ...process.env };
  const started: Service[] = [];
  try {
    for (const spec of SERVICES) {
      if (env[spec.envVar]) {
        log(`${spec.name}: using ${spec.envVar} from the environment`);
        continue;
      }
      const service = await spec.start(abort.signal);
      started.push(service);
      env[spec.envVar] = service.url;
      log(`${spec.name}: started at ${service.url}`);
    }
    const code = await runTests(args, env);
    return receivedSignal ? signalExitCode(receivedSignal) : code;
  } catch (error) {
    if (receivedSignal) return signalExitCode(receivedSignal);
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    for (const service of started.reverse()) await service.stop();
  }
}

/** Positional args (test files) replace the default glob; options are passed through either way. */
async function runTests(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const targets = args.some((arg) => !arg.startsWith('-')) ? args : [...args, DEFAULT_TESTS];
  const nodeArgs = ['--test', '--test-concurrency=2', ...targets];
  const result = await run(process.execPath, nodeArgs, { env, signal: abort.signal, inherit: true });
  return result.code;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async function startPostgres(signal: AbortSignal): Promise<Service> {
  const bin = await postgresBinDir(signal);
  const dir = mkdtempSync(join(tmpdir(), 'plaza-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      // Immediate: the data is thrown away anyway, no need for a clean checkpoint.
      await asPostgres(join(bin, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'immediate', '-w'], { cwd: dir }).catch(
        (error: unknown) => log(`PostgreSQL: stop failed: ${String(error)}`),
      );
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // PostgreSQL refuses to run as root; the cluster belongs to the postgres user.
    if (isRoot()) await run('chown', ['postgres:', dir], { signal });
    // Explicit locale: a bare CI image has no LANG, and initdb would pick SQL_ASCII.
    const initdbArgs = ['-D', dataDir, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8'];
    await asPostgres(join(bin, 'initdb'), initdbArgs, { cwd: dir, signal });

    const port = await freePort();
    appendFileSync(join(dataDir, 'postgresql.conf'), postgresSettings(port, dir));
    const startArgs = ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60'];
    await asPostgres(join(bin, 'pg_ctl'), startArgs, { cwd: dir, signal });

    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await waitForPostgres(url, signal);
    return { url, stop };
  } catch (error) {
    if (existsSync(logFile) && !signal.aborted) log(`PostgreSQL log:\n${readFileSync(logFile, 'utf8')}`);
    await stop();
    throw error;
  }
}

/** Written into postgresql.conf rather than passed via `pg_ctl -o`, which goes through a shell. */
function postgresSettings(port: number, socketDir: string): string {
  return `
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = '${socketDir}'
max_connections = 200
# Durability is pointless for a throwaway test database; speed is not.
fsync = off
synchronous_commit = off
full_page_writes = off
`;
}

/** The newest installed server's bin dir, installing Debian's `postgresql` when there is none. */
async function postgresBinDir(signal: AbortSignal): Promise<string> {
  const found = newestPostgresBinDir();
  if (found) return found;
  if (!isRoot()) throw new Error(`no PostgreSQL server under ${PG_ROOT}; install the postgresql package`);
  log('PostgreSQL: not installed, installing the Debian package');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-q'], { env, signal, inherit: true });
  await run('apt-get', ['install', '-y', '-q', 'postgresql'], { env, signal, inherit: true });
  const installed = newestPostgresBinDir();
  if (!installed) throw new Error(`installed postgresql, but found no server under ${PG_ROOT}`);
  return installed;
}

function newestPostgresBinDir(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((version) => existsSync(join(PG_ROOT, version, 'bin', 'pg_ctl')))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions[0] === undefined ? undefined : join(PG_ROOT, versions[0], 'bin');
}

/** pg_ctl -w already waits for readiness; this also proves the TCP port the app will use works. */
async function waitForPostgres(url: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200, undefined, { signal });
    } finally {
      await client.end().catch(() => {});
    }
  }
}

function asPostgres(command: string, args: string[], options: RunOptions): Promise<RunResult> {
  return isRoot() ? run('runuser', ['-u', 'postgres', '--', command, ...args], options) : run(command, args, options);
}

// ---------------------------------------------------------------------------------------------
// Helpers

type RunOptions = {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Kills the command on abort. Left out for cleanup commands, which must run after a signal. */
  readonly signal?: AbortSignal;
  /** Show the output live (test run, apt-get); otherwise it is captured and shown on failure. */
  readonly inherit?: boolean;
};
type RunResult = { readonly code: number };

/**
 * Runs a command to completion. Helper commands must succeed (a failure throws with their output);
 * with `inherit` the exit code is returned instead, since the test run's code is the script's.
 */
function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
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

/** A port that was free a moment ago: the OS picks one for port 0, which is released again. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Shell convention: 128 + the signal number. */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 15);
}

function log(message: string): void {
  console.error(`[test-services] ${message}`);
}
