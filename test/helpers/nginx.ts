import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/services/common.ts';
import { eventually } from './wait.ts';

/**
 * Debian's nginx round-robin in front of Plaza instances on loopback, run as an unprivileged user
 * can, with a config made from the one operators use (deploy/nginx/plaza.conf). For the fleet tests
 * and the bench's fleet suite.
 */

const REPO_CONFIG = new URL('../../deploy/nginx/plaza.conf', import.meta.url);
const NGINX_CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'];
const UPSTREAM_SERVERS = /^(\s*)server 127\.0\.0\.1:\d+[^;]*;\n/gm;
const LISTEN = /^(\s*)listen 80;$/m;
const LOG_DIR = '/var/log/nginx/';

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

export type Nginx = {
  url: string;
  /** The master process; its workers are its children. */
  pid: number;
  log(): string;
  accessLog(): string;
  stop(): Promise<void>;
};

/**
 * nginx as an unprivileged user can run it: everything it writes (pid, logs, temporary bodies) in a
 * directory of its own, in the foreground, so it ends with the test. The server block is the repo's,
 * with the upstream servers and the listen address replaced; `httpDirectives` go in the `http {}`
 * block beside it.
 */
export async function startNginx(binary: string, upstreams: readonly string[], httpDirectives: readonly string[] = []): Promise<Nginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'plaza-nginx-'));
  for (const dir of ['logs', 'temp']) mkdirSync(join(prefix, dir));
  const port = await freePort();
  writeFileSync(join(prefix, 'plaza.conf'), fleetServerConfig(upstreams, port, join(prefix, 'logs')));
  writeFileSync(join(prefix, 'nginx.conf'), mainConfig(prefix, httpDirectives));
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
  return { url, pid: child.pid!, log, accessLog, stop };
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

function mainConfig(prefix: string, httpDirectives: readonly string[]): string {
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
${httpDirectives.map((directive) => `    ${directive}\n`).join('')}    include ${join(prefix, 'plaza.conf')};
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
