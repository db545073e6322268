/**
 * The fleet suite (issue 15): nginx in front of one Plaza instance against nginx in front of two,
 * both started with WORKERS=0 beside one `plaza worker`, all on the same PostgreSQL schema and Redis
 * prefix. Every process stays up for the whole suite: one nginx lists the first instance only, the
 * other both, and the sides take turns as in the other suites. Besides req/s and latencies, it
 * reports where the machine's CPU went during each measurement. See bench/README.md.
 */
import { readFileSync } from 'node:fs';
import { findNginx, startNginx, type Nginx } from '../test/helpers/nginx.ts';
import { withCleanup } from './lib/cleanup.ts';
import { connectBenchRedis } from './lib/redis.ts';
import { measureLoad, type LoadRequest, type Measurement } from './lib/load.ts';
import { plazaServer } from './lib/plaza.ts';
import { cpuSeconds, listProcesses, localPortsTo, machineBusySeconds } from './lib/proc.ts';
import { withSchemaOfItsOwn, type Profile } from './lib/profiles.ts';
import { withServer, type RunningServer, type ServerSpec } from './lib/servers.ts';
import type { Settings } from './lib/settings.ts';
import { median } from './lib/stats.ts';
import { RESET_STATISTICS } from './lib/suite.ts';
import { requestRate, type SummaryRow } from './lib/summary.ts';
import { memosSuite } from './memos.ts';
import { expectFullPage, seedSocial, socialResetSql, socialScenarios } from './social.ts';

const SIDES = ['one', 'two'] as const;
type Side = (typeof SIDES)[number];
const SIDE_TITLES: Record<Side, string> = { one: 'one instance', two: 'two instances' };

/** Where CPU time is counted, in the report's order. */
const COMPONENTS = ['nginx', 'instance 1', 'instance 2', 'worker', 'PostgreSQL', 'Redis', 'load generator', 'other processes'] as const;
type Component = (typeof COMPONENTS)[number];
/** CPU seconds per component; a component missing could not be seen in /proc. */
type CpuSeconds = Partial<Record<Component, number>>;

/** One measurement through nginx, and the CPU each component used during it. */
export type FleetRun = Measurement & { wallSeconds: number; cpu: CpuSeconds };
export type FleetPath = { name: string; runs: Record<Side, FleetRun[]> };
export type FleetResults = { skipped: string } | { paths: FleetPath[]; seedSeconds: number; redis: string };

/** The paths measured: the memos and social suites' scenarios, read-heavy first, posting last (its outbox work is reset before the next turn). */
const PATHS = ['GET /v1/memos?limit=20', 'GET /v1/timelines/home?limit=20', 'POST /v1/memos', 'POST /v1/posts'];

/**
 * nginx closes a client connection after 1,000 requests (its default keepalive_requests), answering
 * the last with `Connection: close`; autocannon ignores that and sends the next request at once,
 * which then fails as a connection reset. Browsers and HTTP libraries reconnect instead.
 */
const NGINX_DIRECTIVES = ['keepalive_requests 1000000;'];
/** When DATABASE_URL names none. */
const POSTGRES_PORT = 5432;

export async function runFleetSuite(profile: Profile, settings: Settings): Promise<FleetResults> {
  if (profile.kind !== 'postgres') return { skipped: 'it runs on the PostgreSQL profile only: the instances share PostgreSQL and Redis' };
  const nginx = findNginx();
  if (nginx === undefined) return { skipped: 'nginx is not installed (apt-get install nginx)' };
  const redis = await connectBenchRedis();
  if ('skipped' in redis) return redis;
  const { url: redisUrl, prefix } = redis;
  return withCleanup(
    redis.release,
    // The memos and social suites may have seeded the profile's schema with the same users already.
    () => withSchemaOfItsOwn(profile, 'fleet', async (profile) => {
      const started = performance.now();
      const social = await seedSocial(profile);
      log(profile, 'seeding memos');
      const memos = await withServer(plazaServer(profile), (plaza) => memosSuite.seed(plaza.url));
      const seedSeconds = (performance.now() - started) / 1000;
      const requests = new Map([...memos, ...socialScenarios(social)].map((scenario) => [scenario.name, scenario.plaza]));
      const paths = PATHS.map((name) => ({ name, request: requests.get(name) ?? missing(name) }));
      const resetSql = [...memosSuite.resetSql, ...socialResetSql(social), RESET_STATISTICS];
      const redisPid = Number(/^process_id:(\d+)/m.exec(await redis.client.info('server'))?.[1]);
      const services = {
        postgresPort: Number(new URL(profile.env.DATABASE_URL!).port || POSTGRES_PORT),
        redisPid: Number.isInteger(redisPid) ? redisPid : undefined,
      };
      const results = await withFleet(profile, nginx, { REDIS_URL: redisUrl, REDIS_PREFIX: prefix }, async (fleet) => {
        // Through nginx, the reader's first page also builds their Redis feed from the follow graph.
        await expectFullPage(fleet.urls.two, social.reader);
        return measureRounds(profile, settings, fleet, services, paths, resetSql);
      });
      return { paths: results, seedSeconds, redis: new URL(redisUrl).host };
    }),
  );
}

function missing(name: string): never {
  throw new Error(`fleet: no scenario named "${name}" in the memos and social suites`);
}

/** The running fleet: nginx's address per side, and the pids whose CPU is counted. */
type Fleet = { urls: Record<Side, string>; instances: RunningServer[]; worker: RunningServer; proxies: Nginx[] };

/** Two instances (WORKERS=0, as behind a balancer) and a worker, then one nginx before the first and one before both. */
async function withFleet<T>(profile: Profile, nginx: string, redisEnv: Record<string, string>, body: (fleet: Fleet) => Promise<T>): Promise<T> {
  const plaza = plazaServer(profile);
  const env = { ...plaza.env, ...redisEnv };
  const instanceEnv = { ...env, WORKERS: '0', TRUST_PROXY: 'loopback', SHUTDOWN_DRAIN_MS: '0' };
  const instance = (n: number): ServerSpec => ({ ...plaza, name: `Plaza instance ${n}`, env: instanceEnv });
  const workerSpec: ServerSpec = { ...plaza, name: 'Plaza worker', args: ['worker'], env: { ...env, SHUTDOWN_DRAIN_MS: '0' } };
  return withServer(instance(1), (first) =>
    withServer(instance(2), (second) =>
      withServer(workerSpec, async (worker) => {
        const hosts = [first, second].map((server) => new URL(server.url).host);
        const one = await startNginx(nginx, hosts.slice(0, 1), NGINX_DIRECTIVES);
        return withCleanup(one.stop, async () => {
          const two = await startNginx(nginx, hosts, NGINX_DIRECTIVES);
          return withCleanup(two.stop, () => {
            log(profile, `nginx ${one.url} → instance 1; nginx ${two.url} → instances 1 and 2; worker ${worker.url}`);
            return body({ urls: { one: one.url, two: two.url }, instances: [first, second], worker, proxies: [one, two] });
          });
        });
      }),
    ),
  );
}

type Path = { name: string; request: LoadRequest };
/** Where the shared services' processes are found: PostgreSQL's backends by the port they serve, Redis by its pid (from INFO). */
type Services = { postgresPort: number; redisPid: number | undefined };

async function measureRounds(
  profile: Profile,
  settings: Settings,
  fleet: Fleet,
  services: Services,
  paths: readonly Path[],
  resetSql: readonly string[],
): Promise<FleetPath[]> {
  const results: FleetPath[] = paths.map((path) => ({ name: path.name, runs: { one: [], two: [] } }));
  const load = { connections: settings.connections };
  for (let round = 1; round <= settings.rounds; round++) {
    // Swap who goes first each round, so a drift in the machine's load favours neither side.
    for (const side of round % 2 === 1 ? SIDES : SIDES.toReversed()) {
      await profile.runSql(resetSql);
      for (const [index, path] of paths.entries()) {
        const url = fleet.urls[side];
        await measureLoad(url, path.request, { ...load, seconds: settings.warmupSeconds });
        const before = sampleCpu(fleet, services);
        const startedAt = performance.now();
        const measured = await measureLoad(url, path.request, { ...load, seconds: settings.seconds });
        const wallSeconds = (performance.now() - startedAt) / 1000;
        const run = { ...measured, wallSeconds, cpu: cpuDuring(before, sampleCpu(fleet, services)) };
        results[index]!.runs[side].push(run);
        log(profile, `round ${round}/${settings.rounds} ${SIDE_TITLES[side].padEnd(13)} ${path.name.padEnd(32)} ${describe(run)}`);
      }
    }
  }
  return results;
}

/** CPU seconds each process of a component has used so far, by pid; and the whole machine's. */
type CpuSample = { byPid: Partial<Record<Component, Map<number, number>>>; machine: number };

/**
 * What the fleet's processes have used so far: nginx's masters and their workers; each Plaza
 * process; PostgreSQL's backends serving the fleet's connections (found by their client port, from
 * the instances' and worker's sockets) and its own processes (postmaster, WAL writer,
 * checkpointer, …), leaving out other clients' backends; Redis's server process (its threads
 * included); and this process, which runs autocannon.
 */
function sampleCpu(fleet: Fleet, services: Services): CpuSample {
  const ownCpu = process.cpuUsage();
  const processes = listProcesses();
  const nginxMasters = new Set(fleet.proxies.map((proxy) => proxy.pid));
  const nginx = processes.filter((p) => nginxMasters.has(p.pid) || nginxMasters.has(p.parent)).map((p) => p.pid);
  const plazaPids = [...fleet.instances, fleet.worker].map((server) => server.pid);
  const ourPorts = localPortsTo(plazaPids, services.postgresPort);
  const postgres = processes.filter((p) => p.name === 'postgres').map((p) => p.pid).filter((pid) => {
    const client = clientPort(pid);
    return client === undefined ? true : ourPorts.has(client);
  });
  const byPid: CpuSample['byPid'] = {
    nginx: readCpu(nginx),
    'instance 1': readCpu([fleet.instances[0]!.pid]),
    'instance 2': readCpu([fleet.instances[1]!.pid]),
    worker: readCpu([fleet.worker.pid]),
    'load generator': new Map([[process.pid, (ownCpu.user + ownCpu.system) / 1e6]]),
  };
  if (postgres.length > 0) byPid.PostgreSQL = readCpu(postgres);
  if (services.redisPid !== undefined) byPid.Redis = readCpu([services.redisPid]);
  return { byPid, machine: machineBusySeconds() };
}

/** The client's port of a PostgreSQL backend, from its title ("postgres: 15/main: user db 127.0.0.1(41234) idle"); undefined for PostgreSQL's own processes. */
function clientPort(pid: number): number | undefined {
  try {
    const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const port = /\S+\((\d+)\)/.exec(title)?.[1] ?? (title.includes('[local]') ? '0' : undefined);
    return port === undefined ? undefined : Number(port);
  } catch {
    return 0; // it ended: not one of ours to count
  }
}

/** Skips a process that ended since it was listed. */
function readCpu(pids: readonly number[]): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const pid of pids) {
    try {
      seconds.set(pid, cpuSeconds(pid));
    } catch {}
  }
  return seconds;
}

/**
 * Per component, what its processes used between the samples (one that started in between counts
 * whole; one that ended in between is lost); `other processes`: the rest of the machine's busy time.
 */
function cpuDuring(before: CpuSample, after: CpuSample): CpuSeconds {
  const used: CpuSeconds = {};
  for (const component of COMPONENTS) {
    const [start, end] = [before.byPid[component], after.byPid[component]];
    if (start === undefined || end === undefined) continue;
    used[component] = sum([...end].map(([pid, seconds]) => seconds - (start.get(pid) ?? 0)));
  }
  used['other processes'] = Math.max(0, after.machine - before.machine - sum(Object.values(used)));
  return used;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** CPU seconds of the fleet, its services and the load generator: all but `other processes`. */
function measuredCpu(cpu: CpuSeconds): number {
  return sum(COMPONENTS.filter((component) => component !== 'other processes').map((component) => cpu[component] ?? 0));
}

function describe(run: FleetRun): string {
  const cores = (seconds: number) => (seconds / run.wallSeconds).toFixed(2);
  return (
    `${requestRate(run.requestsPerSecond).padStart(6)} req/s  p50 ${run.p50Ms.toFixed(2)} ms  p99 ${run.p99Ms.toFixed(2)} ms  ` +
    `CPU ${cores(measuredCpu(run.cpu))} cores (+ ${cores(run.cpu['other processes'] ?? 0)} others)`
  );
}

function log(profile: Profile, message: string): void {
  console.log(`[${profile.kind}] fleet: ${message}`);
}

/** Medians over rounds of one side of one path. */
function medians(runs: readonly FleetRun[]) {
  const cpu: CpuSeconds = {};
  for (const component of COMPONENTS) {
    const values = runs.flatMap((run) => (run.cpu[component] === undefined ? [] : [run.cpu[component]!]));
    if (values.length > 0) cpu[component] = median(values);
  }
  return {
    requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
    p50Ms: median(runs.map((run) => run.p50Ms)),
    p99Ms: median(runs.map((run) => run.p99Ms)),
    wallSeconds: median(runs.map((run) => run.wallSeconds)),
    cpu,
  };
}

function ratioOf(path: FleetPath): number {
  return medians(path.runs.two).requestsPerSecond / medians(path.runs.one).requestsPerSecond;
}

export function fleetSummaryRows(title: string, results: FleetResults): SummaryRow[] {
  if ('skipped' in results) return [];
  return results.paths.map((path) => ({
    profile: title,
    suite: 'fleet',
    what: `${path.name} through nginx, two instances ÷ one`,
    plaza: `${requestRate(medians(path.runs.two).requestsPerSecond)} req/s (one: ${requestRate(medians(path.runs.one).requestsPerSecond)})`,
    ratio: ratioOf(path),
  }));
}

export function renderFleetSection(title: string, results: FleetResults): string[] {
  if ('skipped' in results) return [`### ${title}`, '', `Not run: ${results.skipped}.`];
  const ms = (value: number) => value.toFixed(value < 10 ? 2 : 1);
  const lines = [
    `### ${title}`,
    '',
    `nginx (Debian's, the repo's deploy/nginx/plaza.conf, one worker process) in front of one Plaza instance, and in front of two ` +
      `(round robin), each \`WORKERS=0\`, beside one \`plaza worker\`; one PostgreSQL schema, one Redis prefix (${results.redis}) ` +
      `for feeds, rate limits, pub/sub and jobs. Seeding (the social graph in SQL, the memos through the API): ${results.seedSeconds.toFixed(1)} s.`,
    '',
    '| path | one instance req/s | two instances req/s | two ÷ one | per round | one p50 / p99 ms | two p50 / p99 ms |',
    '|---|--:|--:|--:|--:|--:|--:|',
  ];
  for (const path of results.paths) {
    const [one, two] = [medians(path.runs.one), medians(path.runs.two)];
    const perRound = path.runs.two.map((run, round) => (run.requestsPerSecond / path.runs.one[round]!.requestsPerSecond).toFixed(2));
    lines.push(
      `| ${path.name} | ${requestRate(one.requestsPerSecond)} | ${requestRate(two.requestsPerSecond)} | ${ratioOf(path).toFixed(2)} | ` +
        `${perRound.join(' ')} | ${ms(one.p50Ms)} / ${ms(one.p99Ms)} | ${ms(two.p50Ms)} / ${ms(two.p99Ms)} |`,
    );
  }
  lines.push(
    '',
    'CPU split: each component\'s share of the machine\'s busy CPU time during the measurement (medians over rounds; ' +
      'user + system time from /proc). PostgreSQL: the backends serving the fleet\'s connections and its own processes ' +
      '(WAL writer, checkpointer, …), not other clients\' backends; Redis: the whole server; load generator: the bench ' +
      'process running autocannon; other processes: the rest of the machine\'s busy time. Cores busy: the machine\'s busy ' +
      'CPU seconds ÷ wall seconds (2 at most here). CPU ms / request: all but other processes, ÷ requests answered.',
    '',
    `| path | fleet | ${COMPONENTS.join(' | ')} | cores busy | CPU ms / request |`,
    `|---|---|${COMPONENTS.map(() => '--:|').join('')}--:|--:|`,
  );
  for (const path of results.paths) {
    for (const side of SIDES) {
      const { cpu, wallSeconds, requestsPerSecond } = medians(path.runs[side]);
      const total = sum(Object.values(cpu));
      const shares = COMPONENTS.map((component) => (cpu[component] === undefined ? '–' : `${Math.round((cpu[component]! / total) * 100)}%`));
      lines.push(
        `| ${path.name} | ${SIDE_TITLES[side]} | ${shares.join(' | ')} | ${(total / wallSeconds).toFixed(2)} | ` +
          `${((measuredCpu(cpu) / (requestsPerSecond * wallSeconds)) * 1000).toFixed(2)} |`,
      );
    }
  }
  return lines;
}
