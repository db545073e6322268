import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNginx, startNginx, type Nginx } from './nginx.ts';
import { serverStorage, startServer, type ServerProcess, type ServerStorage } from './server-process.ts';

/**
 * Several `plaza serve` processes on the services run's PostgreSQL, Redis and S3, each with a
 * DATA_DIR of its own (nothing may depend on one being shared), and Debian's nginx round-robin in
 * front on loopback, with a config made from the one operators use (deploy/nginx/plaza.conf).
 */

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
