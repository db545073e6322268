/**
 * A private, throwaway PostgreSQL for test runs: initdb into a temporary directory, loopback only,
 * a free port, durability off; `stop` removes it all.
 */
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { aptInstall, freePort, isRoot, log, run, type RunOptions, type RunResult, type Service } from './common.ts';

const PG_ROOT = '/usr/lib/postgresql';

export async function startPostgres(signal: AbortSignal): Promise<Service> {
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
    return { url, env: { DATABASE_URL: url }, stop };
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
  await aptInstall('postgresql', signal);
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
