import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverStorage, startServer, type ServerProcess, type ServerStorage } from './server-process.ts';
import { eventually } from './wait.ts';

/**
 * Several `plaza serve` processes on the services run's PostgreSQL, Redis and S3, each with a
 * DATA_DIR of its own (nothing may depend on one being shared), and Debian's nginx round-robin in
 * front on loopback, with a config made from the one operators use (deploy/nginx/plaza.conf).
 */

const REPO_CONFIG = new URL('../../deploy/nginx/plaza.conf', import.meta.url);
const NGINX_CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'];
const UPSTREAM_SERVERS = /^(\s*)server 127\.0\.0\.1:\d+[^;]*;\n/gm;
const LISTEN = /^(\s*)listen 80;$/m;
const LOG_DIR = '/var/log/nginx/';

export type Fleet = {
  /** nginx, in front of every instance. */
  readonly url: string;
  readonly instances: readonly ServerProcess[];
  /** What the instances share (DATABASE_URL, REDIS_*, S3_*), for tests that look at the services directly. */
  readonly env: Readonly<Record<string, string>>;
  /** nginx's error log so far, for failure messages. */
  nginxLog(): string;
  /** nginx's access log so far, in the repo config's format. */
  accessLog(): string;
  /**
   * Stops instance `index` with SIGTERM (it drains, as in production), waits for its exit, and
   * starts it again on the same env and port (nginx's upstream line): the new one replaces it in
   * `instances`, and is returned once it listens.
   */
  restart(index: number): Promise<ServerProcess>;
  close(): Promise<void>;
};

/** The nginx binary, or undefined when it is not installed. */
export function findNginx(): string | undefined {
  const onPath = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
  for (const path of [onPath, ...NGINX_CANDIDATES]) {
    if (path === '') continue;
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

/**
 * Why the fleet tests cannot run here, for `describe(..., { skip })`; false when they can. They need
 * the services run; without nginx they skip, except under CI, where .ci/run installs it: there a
 * missing nginx throws, failing the file instead of passing it unseen.
 */
export function fleetSkipReason(): string | false {
  if ((process.env.DATABASE_URL ?? '') === '' || (process.env.S3_ENDPOINT ?? '') === '') {
    return 'needs the services run (npm run test:services): PostgreSQL, Redis and S3 shared by the instances';
  }
  if (findNginx() !== undefined) return false;
  if ((process.env.CI ?? 'false') !== 'false') throw new Error('nginx is not installed, and CI must run the fleet tests (.ci/run installs it)');
  return 'nginx is not installed (apt-get install nginx); CI installs it and runs these tests';
}

/** Starts `count` instances over one shared storage, then nginx before them. */
export async function startFleet(count: number, env: Readonly<Record<string, string>> = {}): Promise<Fleet> {
  const nginx = findNginx();
  if (nginx === undefined) throw new Error('nginx is not installed');
  const storage = await serverStorage();
  const instances: ServerProcess[] = [];
  const envs: Record<string, string>[] = [];
  const dataDirs: string[] = [];
  let proxy: Nginx | undefined;
  const close = async () => {
    await proxy?.stop();
    await Promise.all(instances.map((instance) => instance.stop()));
    await storage.release();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    // One after the other: the first brings the schema up to date, the others find it so.
    for (let index = 0; index < count; index += 1) {
      const dataDir = mkdtempSync(join(tmpdir(), 'plaza-fleet-'));
      dataDirs.push(dataDir);
      envs.push(instanceEnv(storage, dataDir, env));
      instances.push(await startServer(envs[index]!));
    }
    const restart = async (index: number) => {
      const stopped = instances[index];
      const instanceEnv = envs[index];
      if (stopped === undefined || instanceEnv === undefined) throw new Error(`no instance ${index}`);
      await stopped.stop();
      const started = await startServer({ ...instanceEnv, PORT: new URL(stopped.url).port });
      instances[index] = started;
      return started;
    };
    proxy = await startNginx(nginx, instances.map((instance) => new URL(instance.url).host));
    const running = proxy;
    return { url: running.url, instances, env: storage.env, nginxLog: running.log, accessLog: running.accessLog, restart, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function instanceEnv(storage: ServerStorage, dataDir: string, env: Readonly<Record<string, string>>): Record<string, string> {
  // As an operator runs them behind nginx on the same host: its X-Forwarded-For is believed.
  return { ...storage.env, DATA_DIR: dataDir, TRUST_PROXY: 'loopback', ...env };
}

type Nginx = { url: string; log(): string; accessLog(): string; stop(): Promise<void> };

/**
 * nginx as an unprivileged user can run it: everything it writes (pid, logs, temporary bodies) in a
 * directory of its own, in the foreground, so it ends with the test. The server block is the repo's,
 * with the upstream servers and the listen address replaced.
 */
async function startNginx(binary: string, upstreams: readonly string[]): Promise<Nginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'plaza-nginx-'));
  for (const dir of ['logs', 'temp']) mkdirSync(join(prefix, dir));
  const port = await freePort();
  writeFileSync(join(prefix, 'plaza.conf'), fleetServerConfig(upstreams, port, join(prefix, 'logs')));
  writeFileSync(join(prefix, 'nginx.conf'), mainConfig(prefix));
  const errorLog = join(prefix, 'logs', 'error.log');
  const child = spawn(binary, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', errorLog], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const log = () => `${output}${readIfThere(errorLog)}`;
  const accessLog = () => readIfThere(join(prefix, 'logs', 'plaza-access.log'));
  const stop = async () => {
    await ended(child);
    rmSync(prefix, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}):\n${log()}`);
      const response = await fetch(`${url}/healthz`);
      if (response.status !== 200) throw new Error(`nginx answered /healthz with ${response.status}`);
    }, 10_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, log, accessLog, stop };
}

/** The repo's config with these instances upstream, nginx listening on loopback only, and logging into `logDir`. */
function fleetServerConfig(upstreams: readonly string[], port: number, logDir: string): string {
  const repo = readFileSync(REPO_CONFIG, 'utf8');
  let replaced = false;
  const servers = repo.replace(UPSTREAM_SERVERS, (_line, indent: string) => {
    if (replaced) return '';
    replaced = true;
    return upstreams.map((host) => `${indent}server ${host} max_fails=1 fail_timeout=5s;\n`).join('');
  });
  if (!replaced || !LISTEN.test(servers)) throw new Error('deploy/nginx/plaza.conf has no `server 127.0.0.1:…;` upstream lines or `listen 80;`');
  return servers.replace(LISTEN, (_line, indent: string) => `${indent}listen 127.0.0.1:${port};`).replaceAll(LOG_DIR, `${logDir}/`);
}

function mainConfig(prefix: string): string {
  const temp = (name: string) => join(prefix, 'temp', name);
  // Run as root, nginx's workers would become `nobody`, who cannot write in this test's directory.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}daemon off;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} warn;
worker_processes 1;
events { worker_connections 1024; }
http {
    client_body_temp_path ${temp('client_body')};
    proxy_temp_path ${temp('proxy')};
    fastcgi_temp_path ${temp('fastcgi')};
    uwsgi_temp_path ${temp('uwsgi')};
    scgi_temp_path ${temp('scgi')};
    include ${join(prefix, 'plaza.conf')};
}
`;
}

function readIfThere(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** SIGQUIT lets nginx finish its requests; SIGKILL if it takes too long. */
async function ended(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGQUIT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A port free on loopback just now (nginx takes no port 0). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
