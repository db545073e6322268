/**
 * The stream suite (issue 14): 1,000 open SSE clients (GET /v1/stream) following one author; each
 * round the author posts once and the time until every client has the `post` event is taken, against
 * a bare node:http SSE broadcast server (baselines/sse-server.ts) with as many clients, in turns.
 * Also: Plaza's resident memory per open stream. See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { withCleanup } from './lib/cleanup.ts';
import { connectBenchRedis } from './lib/redis.ts';
import { inParallel } from './lib/http.ts';
import { plazaServer, signUp, type SignedInUser } from './lib/plaza.ts';
import { residentBytes } from './lib/proc.ts';
import type { Profile } from './lib/profiles.ts';
import { withServer, type RunningServer, type ServerSpec } from './lib/servers.ts';
import type { Settings } from './lib/settings.ts';
import { median, percentile } from './lib/stats.ts';
import { requestRate, type SummaryRow } from './lib/summary.ts';

const CLIENTS = Number(process.env.BENCH_STREAM_CLIENTS ?? 1000);
/** Posts timed per side (after one warm-up), Plaza and the baseline taking turns. */
const POSTS = 11;
const TARGET_RATIO = 0.5;
const BASELINE = fileURLToPath(new URL('./baselines/sse-server.ts', import.meta.url));
const ARRIVAL_TIMEOUT_MS = 30_000;

export type StreamRound = { allMs: number; p50Ms: number; p99Ms: number; deliveriesPerSecond: number };
export type StreamResults = {
  clients: number;
  pubsub: string;
  plaza: StreamRound[];
  baseline: StreamRound[];
  plazaBytesPerStream: number;
  baselineBytesPerStream: number;
  seedSeconds: number;
};

/** An open event stream read by the bench: when each post id first showed. */
type Listener = { arrivals: Map<string, number>; close(): void };

const POST_DATA = /data: \{"id":"([^"]+)"/g;

function listen(url: string, token: string | undefined): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const arrivals = new Map<string, number>();
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const req = request(url, { headers, agent: false }, (response) => {
      if (response.statusCode !== 200) return reject(new Error(`${url} answered ${response.statusCode}`));
      response.setEncoding('utf8');
      let pending = '';
      response.on('data', (chunk: string) => {
        const now = performance.now();
        // Whole frames only: a frame may be split across chunks.
        const text = pending + chunk;
        const end = text.lastIndexOf('\n\n');
        pending = end === -1 ? text : text.slice(end + 2);
        for (const [, id] of text.slice(0, end + 1).matchAll(POST_DATA)) if (!arrivals.has(id!)) arrivals.set(id!, now);
      });
      response.on('error', () => {});
      resolve({ arrivals, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends one post (`publish` resolves when it was answered), then waits for every listener to have it. */
async function timeOne(listeners: readonly Listener[], id: string, started: number): Promise<StreamRound> {
  const deadline = Date.now() + ARRIVAL_TIMEOUT_MS;
  while (listeners.some((listener) => !listener.arrivals.has(id))) {
    if (Date.now() > deadline) throw new Error(`stream: ${listeners.filter((l) => !l.arrivals.has(id)).length} clients never got ${id}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const latencies = listeners.map((listener) => listener.arrivals.get(id)! - started).sort((a, b) => a - b);
  for (const listener of listeners) listener.arrivals.delete(id);
  const allMs = latencies.at(-1)!;
  return { allMs, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), deliveriesPerSecond: listeners.length / (allMs / 1000) };
}

/**
 * Until Plaza has handled every outbox event (the previous post's fan-out into 1,000 feeds
 * outlasts its live events), so that each post is timed on an idle server.
 */
async function outboxIdle(plazaUrl: string): Promise<void> {
  for (;;) {
    const metrics = await (await fetch(`${plazaUrl}/metrics`)).text();
    if (/^outbox_backlog 0$/m.test(metrics)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function put(url: string, token: string): Promise<void> {
  const response = await fetch(url, { method: 'PUT', headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 204) throw new Error(`PUT ${url} answered ${response.status}`);
}

/** Redis for the PostgreSQL profile (the deployment's pub/sub and backlog), when one answers. */
async function redisFor(profile: Profile): Promise<{ env: Record<string, string>; name: string; release(): Promise<void> }> {
  const none = { env: {}, name: 'in-process', release: async () => {} };
  if (profile.kind !== 'postgres') return none;
  const redis = await connectBenchRedis();
  if ('skipped' in redis) return none;
  return { env: { REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix }, name: `Redis (${redis.host})`, release: redis.release };
}

export async function runStreamSuite(profile: Profile, settings: Settings): Promise<StreamResults> {
  void settings;
  const redis = await redisFor(profile);
  const plaza = plazaServer(profile);
  const spec: ServerSpec = { ...plaza, env: { ...plaza.env, ...redis.env, MAX_CONNECTIONS: String(CLIENTS * 2 + 100) } };
  return withCleanup(redis.release, () =>
    withServer(spec, (server) =>
      withServer({ name: 'SSE baseline', script: BASELINE, env: {} }, async (baseline) => {
        const seedStarted = performance.now();
        const tag = randomBytes(3).toString('hex');
        const author = await signUp(server.url, `stream-author-${tag}`);
        const followers = await inParallel(
          Array.from({ length: CLIENTS }, (_, i) => i),
          8,
          async (i): Promise<SignedInUser> => {
            const follower = await signUp(server.url, `stream-${tag}-${i}`);
            await put(`${server.url}/v1/users/${author.handle}/follow`, follower.accessToken);
            return follower;
          },
        );
        const seedSeconds = (performance.now() - seedStarted) / 1000;
        console.log(`[${profile.title}] stream: ${CLIENTS} followers seeded in ${seedSeconds.toFixed(1)} s; pub/sub ${redis.name}`);
        return measure(server, baseline, author, followers, redis.name, seedSeconds);
      }),
    ),
  );
}

async function measure(server: RunningServer, baseline: RunningServer, author: SignedInUser, followers: SignedInUser[], pubsub: string, seedSeconds: number): Promise<StreamResults> {
  const rssBefore = { plaza: residentBytes(server.pid).rss, baseline: residentBytes(baseline.pid).rss };
  const plazaListeners = await inParallel(followers, 50, (follower) => listen(`${server.url}/v1/stream`, follower.accessToken));
  const baselineListeners = await inParallel(followers, 50, () => listen(`${baseline.url}/stream`, undefined));
  const listeners = [...plazaListeners, ...baselineListeners];
  return withCleanup(
    async () => listeners.forEach((listener) => listener.close()),
    async () => {
      const plazaPost = async (index: number) => {
        await outboxIdle(server.url);
        const started = performance.now();
        const response = await fetch(`${server.url}/v1/posts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${author.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ text: `stream bench ${index}` }),
        });
        if (response.status !== 201) throw new Error(`POST /v1/posts answered ${response.status}`);
        // Known only from the answer; listeners note every post id as it comes, so none is missed.
        return timeOne(plazaListeners, ((await response.json()) as { id: string }).id, started);
      };
      const baselinePost = async (index: number) => {
        const id = `baseline-${index}-${randomBytes(4).toString('hex')}`;
        const started = performance.now();
        const response = await fetch(`${baseline.url}/publish?id=${id}`, { method: 'POST' });
        if (response.status !== 201) throw new Error(`baseline answered ${response.status}`);
        return timeOne(baselineListeners, id, started);
      };
      await plazaPost(-1);
      await baselinePost(-1);
      const memory = {
        plaza: (residentBytes(server.pid).rss - rssBefore.plaza) / followers.length,
        baseline: (residentBytes(baseline.pid).rss - rssBefore.baseline) / followers.length,
      };
      const plaza: StreamRound[] = [];
      const bare: StreamRound[] = [];
      for (let index = 0; index < POSTS; index += 1) {
        // The order swaps every round, as the other suites' turns do.
        if (index % 2 === 0) {
          plaza.push(await plazaPost(index));
          bare.push(await baselinePost(index));
        } else {
          bare.push(await baselinePost(index));
          plaza.push(await plazaPost(index));
        }
      }
      return { clients: followers.length, pubsub, plaza, baseline: bare, plazaBytesPerStream: memory.plaza, baselineBytesPerStream: memory.baseline, seedSeconds };
    },
  );
}

/** Deliveries/s and memory per stream, for the report's summary. */
export function streamSummaryRows(title: string, results: StreamResults): SummaryRow[] {
  const rate = (rounds: readonly StreamRound[]) => median(rounds.map((round) => round.deliveriesPerSecond));
  const ratio = rate(results.plaza) / rate(results.baseline);
  return [
    {
      profile: title,
      suite: 'stream',
      what: `one post to ${results.clients} open streams`,
      plaza: `${requestRate(rate(results.plaza))} deliveries/s`,
      ratio,
      target: `ratio ≥ ${TARGET_RATIO}`,
      met: ratio >= TARGET_RATIO,
    },
    { profile: title, suite: 'stream', what: 'memory per open stream', plaza: `${(results.plazaBytesPerStream / 1024).toFixed(1)} KiB` },
  ];
}

export function renderStreamSection(title: string, results: StreamResults): string[] {
  const med = (rounds: readonly StreamRound[], key: keyof StreamRound) => median(rounds.map((round) => round[key]));
  const ratio = med(results.plaza, 'deliveriesPerSecond') / med(results.baseline, 'deliveriesPerSecond');
  const row = (name: string, rounds: readonly StreamRound[]) =>
    `| ${name} | ${med(rounds, 'p50Ms').toFixed(1)} | ${med(rounds, 'p99Ms').toFixed(1)} | ${med(rounds, 'allMs').toFixed(1)} | ${Math.round(med(rounds, 'deliveriesPerSecond')).toLocaleString('en')} |`;
  const kib = (bytes: number) => (bytes / 1024).toFixed(1);
  return [
    `### ${title}`,
    '',
    `${results.clients} open streams following one author (pub/sub: ${results.pubsub}); ${results.plaza.length} posts per side after a warm-up, medians over posts. Times from sending the post (Plaza: \`POST /v1/posts\`, through the outbox; baseline: its \`POST /publish\`) until each client had the event.`,
    '',
    '| server | p50 ms | p99 ms | all ms | deliveries/s |',
    '|---|---|---|---|---|',
    row('Plaza', results.plaza),
    row('bare SSE (node:http)', results.baseline),
    '',
    `Ratio (deliveries/s): **${ratio.toFixed(2)}** (target ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'met' : '**not met**'}); each post's: ${results.plaza.map((round, i) => (round.deliveriesPerSecond / results.baseline[i]!.deliveriesPerSecond).toFixed(2)).join(', ')}.`,
    `Memory per open stream (RSS growth ÷ clients, after the warm-up post): Plaza ${kib(results.plazaBytesPerStream)} KiB, baseline ${kib(results.baselineBytesPerStream)} KiB. Seeding (${results.clients} sign-ups and follows through the API): ${results.seedSeconds.toFixed(1)} s.`,
  ];
}
