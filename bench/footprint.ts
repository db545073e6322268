/**
 * The footprint suite: how long Plaza takes to start, and how much memory it holds when idle and
 * once a load has passed. Plaza alone, as `npm start` runs it; no baseline.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withCleanup } from './lib/cleanup.ts';
import { inParallel, requestJson } from './lib/http.ts';
import { writeTestImages } from './lib/images.ts';
import { measureLoad, type LoadRequest } from './lib/load.ts';
import { plazaServer, signUp, type SignedInUser } from './lib/plaza.ts';
import { residentBytes, watchMemory } from './lib/proc.ts';
import type { Profile } from './lib/profiles.ts';
import { withServer, type RunningServer, type ServerSpec } from './lib/servers.ts';
import type { Settings } from './lib/settings.ts';
import { median } from './lib/stats.ts';
import type { SummaryRow } from './lib/summary.ts';

const MiB = 1024 * 1024;
/** "Idle" is this long after /readyz first answered, with no request sent. */
const IDLE_AFTER_SECONDS = 10;
/** "After load" is this long after the last request of the load. */
const SETTLE_SECONDS = 10;
/** Photo-sized JPEGs processed in each load (3000×2000, as in the media suite). */
const IMAGES = 8;
const IMAGE_UPLOAD_CONCURRENCY = 2;
const SEED_MEMOS = 200;
const SEED_POSTS = 100;
const PAGE_SIZE = 20;

/** The targets of issue 10, in MiB and seconds. */
const TARGETS = {
  idleMiB: { embedded: 250, postgres: 150 },
  afterLoadOverIdle: 1.5,
  firstStartSeconds: 3,
  restartSeconds: 1.5,
} as const;

/** One start of Plaza: until ready, and its resident memory when idle. */
export type StartRun = { readySeconds: number; idleBytes: number };

/** One round on the seeded database: a restart, then the load, then the memory once it has passed. */
export type LoadRun = StartRun & { peakBytes: number; afterBytes: number };

export type FootprintResults = {
  kind: Profile['kind'];
  /** One start per round, each on a database that has never been opened (fresh DATA_DIR or schema). */
  firstStarts: StartRun[];
  /** One per round, each a restart of Plaza on the same seeded database. */
  rounds: LoadRun[];
};

export async function runFootprintSuite(profile: Profile, settings: Settings): Promise<FootprintResults> {
  const results: FootprintResults = { kind: profile.kind, firstStarts: [], rounds: [] };
  for (let round = 1; round <= settings.rounds; round++) {
    const run = await withFreshDatabase(profile, `first${round}`, (plaza) => withServer(plaza, (server) => idle(server)));
    results.firstStarts.push(run);
    log(profile, `round ${round}/${settings.rounds} first start ${describeStart(run)}`);
  }

  const work = await mkdtemp(join(tmpdir(), 'plaza-bench-footprint-'));
  return withCleanup(
    () => rm(work, { recursive: true, force: true }),
    () =>
      withFreshDatabase(profile, 'load', async (plaza) => {
        log(profile, `footprint: generating ${IMAGES} JPEGs, seeding`);
        await writeTestImages(work, IMAGES, 3000, 2000);
        const images = await Promise.all((await readdir(work)).sort().map((name) => readFile(join(work, name))));
        const seeded = await withServer(plaza, (server) => seed(server.url));
        for (let round = 1; round <= settings.rounds; round++) {
          const run = await withServer(plaza, (server) => loadRound(server, seeded, images, settings));
          results.rounds.push(run);
          log(profile, `round ${round}/${settings.rounds} restart ${describeStart(run)}, ${describeLoad(run)}`);
        }
        return results;
      }),
  );
}

/**
 * Plaza on a database of its own inside the profile's: a directory under its DATA_DIR, or a schema
 * beside its own on PostgreSQL (dropped afterwards).
 */
async function withFreshDatabase<T>(profile: Profile, name: string, body: (plaza: ServerSpec) => Promise<T>): Promise<T> {
  const plaza = plazaServer(profile);
  if (profile.kind === 'embedded') {
    const dataDir = join(profile.env.DATA_DIR!, `footprint-${name}`);
    return withCleanup(
      () => rm(dataDir, { recursive: true, force: true }),
      () => body({ ...plaza, env: { ...plaza.env, DATA_DIR: dataDir } }),
    );
  }
  const schema = `${profile.env.DATABASE_SCHEMA!}_${name}`;
  return withCleanup(
    () => profile.runSql([`drop schema if exists "${schema}" cascade`]),
    () => body({ ...plaza, env: { ...plaza.env, DATABASE_SCHEMA: schema } }),
  );
}

async function idle(server: RunningServer): Promise<StartRun> {
  await sleep(IDLE_AFTER_SECONDS);
  return { readySeconds: server.readySeconds, idleBytes: residentBytes(server.pid).rss };
}

type Seeded = { reader: SignedInUser; writer: SignedInUser };

/** A reader following a writer; the reader has memos, the writer posts. */
async function seed(plazaUrl: string): Promise<Seeded> {
  const [reader, writer] = await inParallel(['footprint-reader', 'footprint-writer'], 2, (label) => signUp(plazaUrl, label));
  const followed = await fetch(`${plazaUrl}/v1/users/${writer!.handle}/follow`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${reader!.accessToken}` },
  });
  if (followed.status !== 204) throw new Error(`PUT /v1/users/{handle}/follow answered ${followed.status}: ${await followed.text()}`);
  await inParallel(Array.from({ length: SEED_MEMOS }, (_, n) => n), 8, (n) =>
    requestJson('POST', `${plazaUrl}/v1/memos`, { token: reader!.accessToken, body: { text: `memo ${n}` } }),
  );
  await inParallel(Array.from({ length: SEED_POSTS }, (_, n) => n), 8, (n) =>
    requestJson('POST', `${plazaUrl}/v1/posts`, { token: writer!.accessToken, body: { text: `post ${n}` } }),
  );
  return { reader: reader!, writer: writer! };
}

/**
 * Idle memory after the restart; then reads and writes of memos, home pages and posts (each for
 * BENCH_DURATION seconds) and photos processed into variants; then memory once the load has passed.
 */
async function loadRound(server: RunningServer, seeded: Seeded, images: readonly Buffer[], settings: Settings): Promise<LoadRun> {
  const start = await idle(server);
  const json = { 'content-type': 'application/json' };
  const reader = { authorization: `Bearer ${seeded.reader.accessToken}` };
  const writer = { authorization: `Bearer ${seeded.writer.accessToken}` };
  const requests: LoadRequest[] = [
    { method: 'GET', path: `/v1/memos?limit=${PAGE_SIZE}`, headers: reader },
    { method: 'POST', path: '/v1/memos', headers: { ...reader, ...json }, body: JSON.stringify({ text: 'a memo written under load' }) },
    { method: 'GET', path: `/v1/timelines/home?limit=${PAGE_SIZE}`, headers: reader },
    { method: 'POST', path: '/v1/posts', headers: { ...writer, ...json }, body: JSON.stringify({ text: 'a post written under load' }) },
  ];
  const { peakBytes } = await watchMemory(server.pid, async () => {
    for (const request of requests) await measureLoad(server.url, request, settings);
    await processImages(server.url, seeded.writer.accessToken, images);
  });
  await sleep(SETTLE_SECONDS);
  return { ...start, peakBytes, afterBytes: residentBytes(server.pid).rss };
}

/** Uploads every image with raw `POST /v1/media`, a few at a time, and waits until all are ready. */
async function processImages(baseUrl: string, token: string, images: readonly Buffer[]): Promise<void> {
  const ids = await inParallel(images, IMAGE_UPLOAD_CONCURRENCY, async (bytes) => {
    const response = await fetch(`${baseUrl}/v1/media?fileName=photo.jpg`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' },
      body: bytes,
    });
    const text = await response.text();
    if (response.status !== 201 && response.status !== 202) throw new Error(`POST /v1/media answered ${response.status}: ${text.slice(0, 500)}`);
    return (JSON.parse(text) as { id: string }).id;
  });
  const deadline = Date.now() + 300_000;
  for (const id of ids) {
    for (;;) {
      const media = await requestJson<{ status: string; failure?: string }>('GET', `${baseUrl}/v1/media/${id}`, { token });
      if (media.status === 'ready') break;
      if (media.status === 'failed') throw new Error(`image ${id} failed processing: ${media.failure}`);
      if (Date.now() > deadline) throw new Error(`image ${id} still processing after 5 minutes`);
      await sleep(0.05);
    }
  }
}

export function renderFootprintSection(settings: Settings, results: readonly { title: string; results: FootprintResults }[]): string[] {
  const lines = [
    `Plaza as \`npm start\` runs it. Resident memory (VmRSS) ${IDLE_AFTER_SECONDS} s after \`/readyz\` first answered with no request ` +
      `sent ("idle"), and ${SETTLE_SECONDS} s after a load ("after load": ${settings.seconds} s each of memo pages, new memos, ` +
      `home pages and new posts over ${settings.connections} connections, then ${IMAGES} 3000×2000 JPEGs processed; the peak is while it ran). ` +
      `First start: a database never opened before (a fresh DATA_DIR, or a fresh schema), from spawning the process until ` +
      `\`/readyz\` answers 200; restart: the same on the seeded database. Medians over rounds, the slowest or largest round in brackets.`,
    '',
    '| profile | measure | Plaza | target | |',
    '|---|---|--:|--:|---|',
  ];
  for (const { title, results: result } of results) {
    for (const { measure, value, target, met } of footprintMeasures(result)) {
      lines.push(`| ${title} | ${measure} | ${value} | ${target ?? ''} | ${met === undefined ? '' : met ? 'met' : '**not met**'} |`);
    }
  }
  return lines;
}

type FootprintMeasure = { measure: string; value: string; target?: string; met?: boolean };

function footprintMeasures(result: FootprintResults): FootprintMeasure[] {
  const idleTarget = TARGETS.idleMiB[result.kind];
  const idleBytes = result.rounds.map((run) => run.idleBytes);
  const afterOverIdle = result.rounds.map((run) => run.afterBytes / run.idleBytes);
  const firsts = result.firstStarts.map((run) => run.readySeconds);
  const restarts = result.rounds.map((run) => run.readySeconds);
  return [
    { measure: 'idle RSS after a restart', value: mib(idleBytes), target: `≤ ${idleTarget} MiB`, met: median(idleBytes) / MiB <= idleTarget },
    { measure: 'idle RSS after a first start', value: mib(result.firstStarts.map((run) => run.idleBytes)) },
    { measure: 'peak RSS during the load', value: mib(result.rounds.map((run) => run.peakBytes)) },
    { measure: 'RSS after the load', value: mib(result.rounds.map((run) => run.afterBytes)) },
    {
      measure: 'RSS after the load ÷ idle',
      value: `${median(afterOverIdle).toFixed(2)}× (${Math.max(...afterOverIdle).toFixed(2)}×)`,
      target: `≤ ${TARGETS.afterLoadOverIdle}×`,
      met: median(afterOverIdle) <= TARGETS.afterLoadOverIdle,
    },
    { measure: 'first start until ready', value: seconds(firsts), target: `≤ ${TARGETS.firstStartSeconds} s`, met: median(firsts) <= TARGETS.firstStartSeconds },
    { measure: 'restart until ready', value: seconds(restarts), target: `≤ ${TARGETS.restartSeconds} s`, met: median(restarts) <= TARGETS.restartSeconds },
  ];
}

/** The measures with a target, for the report's summary. */
export function footprintSummaryRows(title: string, result: FootprintResults): SummaryRow[] {
  return footprintMeasures(result)
    .filter((m) => m.target !== undefined)
    .map((m) => ({ profile: title, suite: 'footprint', what: m.measure, plaza: m.value, target: m.target, met: m.met }));
}

function mib(values: readonly number[]): string {
  return `${Math.round(median(values) / MiB)} MiB (${Math.round(Math.max(...values) / MiB)})`;
}

function seconds(values: readonly number[]): string {
  return `${median(values).toFixed(2)} s (${Math.max(...values).toFixed(2)})`;
}

function describeStart(run: StartRun): string {
  return `ready after ${run.readySeconds.toFixed(2)} s, idle RSS ${Math.round(run.idleBytes / MiB)} MiB`;
}

function describeLoad(run: LoadRun): string {
  return `peak ${Math.round(run.peakBytes / MiB)} MiB, after load ${Math.round(run.afterBytes / MiB)} MiB (${(run.afterBytes / run.idleBytes).toFixed(2)}× idle)`;
}

function sleep(seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

function log(profile: Profile, message: string): void {
  console.log(`[${profile.kind}] footprint: ${message}`);
}
