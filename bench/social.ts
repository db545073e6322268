/**
 * The social suite: a home timeline page and new posts on a seeded follow graph (10,000 users, a
 * reader following 200 of them, 100,000 posts), next to a bare baseline in the same run; and, on
 * PostgreSQL with Redis, the fan-out of one post to 10,000 followers' cached feeds next to a raw
 * Redis pipeline of the same 10,000 writes.
 *
 * The graph is seeded with SQL (10,000 argon2 signups would take minutes): only the three users who
 * need to log in (reader, writer, fan-out author) sign up through the API.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { monotonicFactory } from 'ulid';
import { RedisFeedStore } from '../src/platform/feeds/redis.ts';
import { inParallel, requestJson } from './lib/http.ts';
import { connectBenchRedis } from './lib/redis.ts';
import { plazaServer, signUp, type SignedInUser } from './lib/plaza.ts';
import type { Profile } from './lib/profiles.ts';
import { withServer, type ServerSpec } from './lib/servers.ts';
import type { Settings } from './lib/settings.ts';
import { median } from './lib/stats.ts';
import { runSuite, type Scenario, type ScenarioRounds, type Suite } from './lib/suite.ts';
import type { SummaryRow } from './lib/summary.ts';
import { withCleanup } from './lib/cleanup.ts';

const USERS = 10_000;
const READER_FOLLOWS = 200;
const POSTS = 100_000;
const PAGE_SIZE = 20;
/** Every seeded user follows the fan-out author. */
const FAN_OUT_FOLLOWERS = USERS;
/** Above the fan-out's follower count, so its posts are fanned out (Plaza's default is 10,000). */
const FAN_OUT_MAX_FOLLOWERS = '20000';
/** A home timeline page should keep at least this share of the bare SELECT's throughput. */
const HOME_TARGET_RATIO = 0.5;
/** Posting should keep at least this share of the bare INSERT's throughput (issue 11). */
const POST_TARGET_RATIO = 0.6;
/** As many clients as the wrk measurement: posting's overheads show at 50, not at 10. */
const WRK_CONNECTIONS = 50;
/** Plaza's fan-out should keep at least this share of a raw pipeline's ZADDs per second. */
const FAN_OUT_TARGET_RATIO = 0.5;
const FAN_OUT_TIMEOUT_MS = 60_000;
/** The fan-out's BullMQ queue where a job runs it (before issue 11's outbox, or if the relay hands it on), `fan-out-<post id>` its job id. */
const FAN_OUT_QUEUE = 'timelines.fan-out';
const ROWS_PER_INSERT = 20_000;
const BASELINE_SCRIPT = fileURLToPath(new URL('./baselines/social-server.ts', import.meta.url));
const POST_TEXT =
  'Golden hour at the harbour again: the ferries, the gulls, and that one kid who always waves. More photos soon.';

export type FanOutRound = {
  /** From sending POST /v1/posts until its fan-out finished (then every follower's feed is checked). */
  plazaSeconds: number;
  plazaDeliveriesPerSecond: number;
  /** What said the fan-out finished: its BullMQ job's `finishedOn`, or the outbox found empty. */
  finishedBy: FinishedBy;
  /** Of plazaSeconds, until POST /v1/posts answered (the fan-out runs after it). */
  postAnsweredSeconds: number;
  /** Of plazaSeconds, until a worker took the fan-out job, when a job ran it. */
  pickedUpSeconds: number | undefined;
  /** One ioredis pipeline of the same number of ZADDs to fresh keys. */
  rawSeconds: number;
  rawZaddsPerSecond: number;
};

export type SocialResults = {
  rounds: ScenarioRounds[];
  seedSeconds: number;
  fanOut: FanOutRound[] | { skipped: string };
};

type Seeded = { reader: SignedInUser; writer: SignedInUser; author: SignedInUser; followers: string[] };

/** The social suite's data: the users who log in, the fan-out author's followers, and whether Plaza has an outbox. */
export type SocialSeed = Seeded & { outbox: boolean; seconds: number };

export async function runSocialSuite(profile: Profile, settings: Settings): Promise<SocialResults> {
  const seeded = await seedSocial(profile);
  const suite: Suite = {
    name: 'social',
    baselineScript: BASELINE_SCRIPT,
    seed: async (plazaUrl) => {
      await expectFullPage(plazaUrl, seeded.reader);
      return socialScenarios(seeded);
    },
    resetSql: socialResetSql(seeded),
  };
  const rounds = await runSuite(suite, profile, settings);
  const fanOut =
    profile.kind === 'postgres' ? await runFanOut(profile, settings, seeded, seeded.outbox) : { skipped: 'it runs on the PostgreSQL profile only' };
  return { rounds, seedSeconds: seeded.seconds, fanOut };
}

/** Three users sign up through the API (Plaza then stops), and the graph goes in with SQL. */
export async function seedSocial(profile: Profile): Promise<SocialSeed> {
  log(profile, 'social: seeding the graph');
  const started = performance.now();
  const labels = ['social-reader', 'social-writer', 'social-author'];
  const [reader, writer, author] = await withServer(plazaServer(profile), (plaza) =>
    inParallel(labels, 3, (label) => signUp(plaza.url, label)),
  );
  const users = { reader: reader!, writer: writer!, author: author! };
  // On PGlite the data directory is free again: Plaza stopped after the signups.
  const { followers, outbox } = await withDatabase(profile, async (query) => ({
    followers: await seedGraph(query, users),
    outbox: await hasOutbox(query),
  }));
  const seconds = (performance.now() - started) / 1000;
  log(profile, `social: seeded in ${seconds.toFixed(1)} s`);
  return { ...users, followers, outbox, seconds };
}

/** Undoes what the scenarios wrote: the writer's posts, feed entries and counter, and any outbox events. */
export function socialResetSql(seeded: SocialSeed): string[] {
  return [
    `delete from posts where author_id = '${seeded.writer.id}'`,
    // home_feeds.post_id has no foreign key: the writer's own feed entries outlive their posts.
    `delete from home_feeds where user_id = '${seeded.writer.id}'`,
    `delete from user_post_counts where user_id = '${seeded.writer.id}'`,
    // Events a turn left behind would be handled in the next one, on its clock.
    ...(seeded.outbox ? ['delete from outbox_events'] : []),
  ];
}

type Row = Record<string, unknown>;
type Query = (text: string, params?: unknown[]) => Promise<Row[]>;

/** The profile's database, opened the way Plaza opens it (PGlite: only while no server has it). */
async function withDatabase<T>(profile: Profile, body: (query: Query) => Promise<T>): Promise<T> {
  const env = profile.env;
  if (env.DATABASE_URL === undefined) {
    const pglite = await PGlite.create({ dataDir: join(env.DATA_DIR!, 'db') });
    try {
      return await body(async (text, params) => (await pglite.query<Row>(text, params)).rows);
    } finally {
      await pglite.close();
    }
  }
  const client = new pg.Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}` });
  await client.connect();
  try {
    return await body(async (text, params) => (await client.query<Row>(text, params)).rows);
  } finally {
    await client.end();
  }
}

/**
 * 10,000 users with ULID ids; 100,000 posts spread evenly over them and over the last 30 days (ids
 * time-ordered ULIDs); the reader follows 200 of them and their home feed holds those authors' posts,
 * as fan-out would have left it; every seeded user follows the fan-out author. Counters are set as
 * Plaza keeps them. Returns the fan-out author's followers.
 */
async function seedGraph(query: Query, seeded: Omit<Seeded, 'followers'>): Promise<string[]> {
  const now = Date.now();
  const userId = monotonicFactory();
  const userIds = Array.from({ length: USERS }, () => userId(now - 365 * 24 * 3600_000));
  const handles = userIds.map((_, i) => `bench_${i.toString().padStart(5, '0')}`);
  await query(
    `insert into users (id, handle, name, created_at, updated_at)
     select u.id, u.handle, 'Bench user ' || u.n, now(), now()
     from unnest($1::text[], $2::text[]) with ordinality as u (id, handle, n)`,
    [userIds, handles],
  );

  const postId = monotonicFactory();
  const firstPostAt = now - 30 * 24 * 3600_000;
  const step = (30 * 24 * 3600_000 - 60_000) / POSTS;
  for (let start = 0; start < POSTS; start += ROWS_PER_INSERT) {
    const ids: string[] = [];
    const authors: string[] = [];
    const times: string[] = [];
    for (let i = start; i < Math.min(POSTS, start + ROWS_PER_INSERT); i++) {
      const at = Math.round(firstPostAt + i * step);
      ids.push(postId(at));
      authors.push(userIds[(i * 7919) % USERS]!);
      times.push(new Date(at).toISOString());
    }
    await query(
      `insert into posts (id, author_id, text, visibility, created_at)
       select p.id, p.author_id, 'Post #' || (p.n + ${start}) || ': ' || left($4, 40 + ((p.n * 37) % 70)::int), 'public', p.at::timestamptz
       from unnest($1::text[], $2::text[], $3::text[]) with ordinality as p (id, author_id, at, n)`,
      [ids, authors, times, POST_TEXT],
    );
  }

  const followed = userIds.filter((_, i) => i % (USERS / READER_FOLLOWS) === 0);
  await query(
    `insert into follows (follower_id, followee_id, created_at) select $1, f, now() from unnest($2::text[]) as f`,
    [seeded.reader.id, followed],
  );
  const followers = userIds.slice(0, FAN_OUT_FOLLOWERS);
  await query(
    `insert into follows (follower_id, followee_id, created_at) select f, $1, now() from unnest($2::text[]) as f`,
    [seeded.author.id, followers],
  );
  await query(
    `insert into home_feeds (user_id, post_id, author_id)
     select f.follower_id, p.id, p.author_id from follows f join posts p on p.author_id = f.followee_id
     where f.follower_id = $1`,
    [seeded.reader.id],
  );
  await query(`insert into user_post_counts (user_id, slot, n) select author_id, 0, count(*)::int from posts group by author_id`);
  await query(`update users u set followers_count = c.n from (select followee_id, count(*)::int n from follows group by followee_id) c where c.followee_id = u.id`);
  await query(`update users u set following_count = c.n from (select follower_id, count(*)::int n from follows group by follower_id) c where c.follower_id = u.id`);
  const [counts] = await query(
    `select (select count(*) from users)::int users, (select count(*) from posts)::int posts,
            (select count(*) from home_feeds where user_id = $1)::int feed`,
    [seeded.reader.id],
  );
  console.log(`  seeded ${counts!.users} users, ${counts!.posts} posts, ${counts!.feed} rows in the reader's home feed`);
  return followers;
}

/** Whether Plaza's migrations made the outbox (issue 11): its relay then fans posts out, not a job of their own. */
async function hasOutbox(query: Query): Promise<boolean> {
  const [row] = await query(`select to_regclass('outbox_events') is not null as present`);
  return row!.present === true;
}

export async function expectFullPage(plazaUrl: string, reader: SignedInUser): Promise<void> {
  const page = await requestJson<{ items: { author: { id: string } }[] }>(
    'GET',
    `${plazaUrl}/v1/timelines/home?limit=${PAGE_SIZE}`,
    { token: reader.accessToken },
  );
  if (page.items.length !== PAGE_SIZE) throw new Error(`the reader's home timeline has ${page.items.length} posts, not ${PAGE_SIZE}`);
}

export function socialScenarios({ reader, writer }: Pick<Seeded, 'reader' | 'writer'>): Scenario[] {
  const newPost = JSON.stringify({ text: POST_TEXT });
  const json = { 'content-type': 'application/json' };
  const posting = {
    plaza: { method: 'POST', path: '/v1/posts', headers: { ...bearer(writer), ...json }, body: newPost },
    baseline: { method: 'POST', path: `/users/${writer.id}/posts`, headers: json, body: newPost },
  } as const;
  return [
    {
      name: `GET /v1/timelines/home?limit=${PAGE_SIZE}`,
      plaza: { method: 'GET', path: `/v1/timelines/home?limit=${PAGE_SIZE}`, headers: bearer(reader) },
      baseline: { method: 'GET', path: `/users/${reader.id}/home` },
      target: HOME_TARGET_RATIO,
    },
    { name: 'POST /v1/posts', ...posting, target: POST_TARGET_RATIO },
    { name: `POST /v1/posts, ${WRK_CONNECTIONS} connections`, ...posting, target: POST_TARGET_RATIO, connections: WRK_CONNECTIONS },
  ];
}

function bearer(user: SignedInUser): Record<string, string> {
  return { authorization: `Bearer ${user.accessToken}` };
}

/**
 * Plaza with Redis (feeds and job queue) on the same schema, its fan-out cap above 10,000. The
 * followers' feeds are built first (fan-out skips feeds not built), empty, the way Plaza's own
 * RedisFeedStore builds them. Then, per round, Plaza and a raw pipeline take turns: Plaza is timed
 * from sending POST /v1/posts until its fan-out finished (see `plazaFanOut`), and then every feed is checked.
 */
async function runFanOut(profile: Profile, settings: Settings, seeded: Seeded, outbox: boolean): Promise<FanOutRound[] | { skipped: string }> {
  const bench = await connectBenchRedis();
  if ('skipped' in bench) return bench;
  const { url: redisUrl, prefix, client: redis } = bench;
  const feeds = new RedisFeedStore({ redisUrl, prefix });
  return withCleanup(
    async () => {
      await feeds.close();
      await bench.release().catch(() => {});
    },
    async () => {
      log(profile, `social: building ${seeded.followers.length} empty Redis feeds (prefix ${prefix})`);
      await inParallel(seeded.followers, 64, (followerId) => feeds.replace(followerId, []));
      const plaza = plazaServer(profile);
      const spec: ServerSpec = {
        ...plaza,
        name: 'Plaza (Redis)',
        env: { ...plaza.env, REDIS_URL: redisUrl, REDIS_PREFIX: prefix, FANOUT_MAX_FOLLOWERS: FAN_OUT_MAX_FOLLOWERS },
      };
      return withServer(spec, (server) => withDatabase(profile, async (query) => {
        const keys = seeded.followers.map((id) => `${prefix}:feed:${id}`);
        const watch: FanOutWatch = { redis, prefix, outboxEmpty: outbox ? () => outboxEmpty(query) : undefined };
        const warmUp = await plazaFanOut(server.url, watch, seeded.author, keys);
        log(profile, `social: fan-out warm-up ${(warmUp.seconds * 1000).toFixed(0)} ms`);
        await rawPipeline(redis, `${prefix}:raw:warm-up`, seeded.followers);
        const rounds: FanOutRound[] = [];
        for (let round = 1; round <= settings.rounds; round++) {
          const measure = {
            plaza: () => plazaFanOut(server.url, watch, seeded.author, keys),
            raw: () => rawPipeline(redis, `${prefix}:raw:${round}`, seeded.followers),
          };
          // Swap who goes first each round, as the other suites do.
          let plaza: PlazaFanOut;
          let rawSeconds: number;
          if (round % 2 === 1) {
            plaza = await measure.plaza();
            rawSeconds = await measure.raw();
          } else {
            rawSeconds = await measure.raw();
            plaza = await measure.plaza();
          }
          const plazaSeconds = plaza.seconds;
          const n = seeded.followers.length;
          const result = {
            plazaSeconds,
            plazaDeliveriesPerSecond: n / plazaSeconds,
            finishedBy: plaza.finishedBy,
            postAnsweredSeconds: plaza.postAnsweredSeconds,
            pickedUpSeconds: plaza.pickedUpSeconds,
            rawSeconds,
            rawZaddsPerSecond: n / rawSeconds,
          };
          rounds.push(result);
          log(
            profile,
            `round ${round}/${settings.rounds} fan-out to ${n}: Plaza ${(plazaSeconds * 1000).toFixed(1)} ms ` +
              `(${Math.round(result.plazaDeliveriesPerSecond)}/s), raw pipeline ${(rawSeconds * 1000).toFixed(1)} ms ` +
              `(${Math.round(result.rawZaddsPerSecond)}/s)`,
          );
        }
        return rounds;
      }));
    },
  );
}

type FinishedBy = 'job' | 'outbox';
type PlazaFanOut = { seconds: number; finishedBy: FinishedBy; postAnsweredSeconds: number; pickedUpSeconds: number | undefined };
/** Where a fan-out's end shows: the BullMQ job hashes under `prefix`, and the outbox when Plaza has one. */
type FanOutWatch = { redis: Redis; prefix: string; outboxEmpty: (() => Promise<boolean>) | undefined };
type JobHash = { processedOn?: string; finishedOn?: string; failedReason?: string };

/**
 * Times one post's fan-out, from sending it until it finished, then checks, untimed, that every feed
 * in `keys` holds the post. Polling the feeds themselves would time the polling: reading 10,000
 * feeds takes about as long as the raw pipeline it is compared with. Where the outbox exists, the
 * relay fans out (batched) and deletes the event once handled, so the fan-out has finished when
 * the outbox is empty, unless the relay handed it on to a fan-out job, which is then waited for.
 * Without an outbox, the post's fan-out job's own `finishedOn` (BullMQ's record, ms) says.
 */
async function plazaFanOut(plazaUrl: string, watch: FanOutWatch, author: SignedInUser, keys: readonly string[]): Promise<PlazaFanOut> {
  const sentAt = Date.now();
  const started = performance.now();
  const post = await requestJson<{ id: string }>('POST', `${plazaUrl}/v1/posts`, {
    token: author.accessToken,
    body: { text: POST_TEXT },
  });
  const postAnsweredSeconds = (performance.now() - started) / 1000;
  const finished = await fanOutEnd(watch, post.id, Date.now() + FAN_OUT_TIMEOUT_MS);
  const missing = await withoutMember(watch.redis, keys, `${post.id}:${author.id}`);
  if (missing.length > 0) throw new Error(`fan-out: ${missing.length} feeds lack post ${post.id} after its fan-out finished (${finished.finishedBy})`);
  return {
    seconds: (finished.at - sentAt) / 1000,
    finishedBy: finished.finishedBy,
    postAnsweredSeconds,
    pickedUpSeconds: finished.job === undefined ? undefined : (Number(finished.job.processedOn) - sentAt) / 1000,
  };
}

/** When (ms, this machine's clock) and by what sign the post's fan-out finished. */
async function fanOutEnd(watch: FanOutWatch, postId: string, deadline: number): Promise<{ at: number; finishedBy: FinishedBy; job?: JobHash }> {
  const jobKey = `${watch.prefix}:${FAN_OUT_QUEUE}:fan-out-${postId}`;
  if (watch.outboxEmpty !== undefined) {
    await pollUntil(deadline, `the outbox still holds events ${FAN_OUT_TIMEOUT_MS} ms after post ${postId}`, watch.outboxEmpty);
    const at = Date.now();
    if ((await watch.redis.exists(jobKey)) === 0) return { at, finishedBy: 'outbox' };
  }
  const job = await finishedJob(watch.redis, jobKey, deadline);
  return { at: Number(job.finishedOn), finishedBy: 'job', job };
}

async function finishedJob(redis: Redis, jobKey: string, deadline: number): Promise<JobHash> {
  let job: JobHash = {};
  await pollUntil(deadline, `job ${jobKey} did not finish within ${FAN_OUT_TIMEOUT_MS} ms`, async () => {
    job = await redis.hgetall(jobKey);
    return job.finishedOn !== undefined;
  });
  if (job.failedReason !== undefined) throw new Error(`fan-out: job ${jobKey} failed: ${job.failedReason}`);
  return job;
}

/** Asks `done` every millisecond until it says yes, or fails with `late` after `deadline`. */
async function pollUntil(deadline: number, late: string, done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`fan-out: ${late}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function outboxEmpty(query: Query): Promise<boolean> {
  const [row] = await query('select not exists (select 1 from outbox_events) as empty');
  return row!.empty === true;
}

async function withoutMember(redis: Redis, keys: readonly string[], member: string): Promise<string[]> {
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.zscore(key, member);
  const replies = (await pipeline.exec()) ?? [];
  return keys.filter((_, i) => {
    const [error, score] = replies[i]!;
    if (error) throw error;
    return score === null;
  });
}

/** Seconds one ioredis pipeline takes to ZADD one member to each of these users' fresh keys. */
async function rawPipeline(redis: Redis, keyPrefix: string, userIds: readonly string[]): Promise<number> {
  const member = `${monotonicFactory()()}:${userIds[0]}`;
  const started = performance.now();
  const pipeline = redis.pipeline();
  for (const userId of userIds) pipeline.zadd(`${keyPrefix}:${userId}`, 0, member);
  const replies = (await pipeline.exec()) ?? [];
  const seconds = (performance.now() - started) / 1000;
  for (const [error] of replies) if (error) throw error;
  return seconds;
}

const FINISHED_BY: Record<FinishedBy, string> = { job: 'fan-out job finished', outbox: 'outbox empty' };

/** The fan-out's line in the report's summary (the autocannon rows come as scenario rows). */
export function socialSummaryRows(title: string, results: SocialResults): SummaryRow[] {
  const fanOut = results.fanOut;
  if ('skipped' in fanOut) return [];
  const plazaRate = median(fanOut.map((r) => r.plazaDeliveriesPerSecond));
  const ratio = plazaRate / median(fanOut.map((r) => r.rawZaddsPerSecond));
  return [
    {
      profile: title,
      suite: 'social',
      what: `fan-out of one post to ${FAN_OUT_FOLLOWERS.toLocaleString('en-US')} Redis feeds`,
      plaza: `${Math.round(plazaRate).toLocaleString('en-US')} deliveries/s`,
      ratio,
      target: `ratio ≥ ${FAN_OUT_TARGET_RATIO}`,
      met: ratio >= FAN_OUT_TARGET_RATIO,
    },
  ];
}

/** The social suite's own section: seeding, and the fan-out (which has no autocannon row). */
export function renderSocialSection(title: string, results: SocialResults): string[] {
  const lines = [
    `### ${title}`,
    '',
    `Seeding (3 signups through the API, the rest in SQL): ${results.seedSeconds.toFixed(1)} s. ` +
      `The home timeline and POST /v1/posts rows (at ${WRK_CONNECTIONS} connections too) are in the profile's table above.`,
    '',
  ];
  const fanOut = results.fanOut;
  if ('skipped' in fanOut) return [...lines, `Fan-out: not run (${fanOut.skipped}).`];
  const plazaMs = fanOut.map((r) => r.plazaSeconds * 1000);
  const rawMs = fanOut.map((r) => r.rawSeconds * 1000);
  const postMs = fanOut.map((r) => r.postAnsweredSeconds * 1000);
  const pickedUpMs = fanOut.flatMap((r) => (r.pickedUpSeconds === undefined ? [] : [r.pickedUpSeconds * 1000]));
  const finishedBy = [...new Set(fanOut.map((r) => r.finishedBy))].map((by) => FINISHED_BY[by]).join(' or ');
  const plazaRate = median(fanOut.map((r) => r.plazaDeliveriesPerSecond));
  const rawRate = median(fanOut.map((r) => r.rawZaddsPerSecond));
  const ratio = plazaRate / rawRate;
  const perRound = (values: number[], digits: number) => values.map((v) => v.toFixed(digits)).join(' ');
  const rate = (value: number) => Math.round(value).toLocaleString('en-US');
  return [
    ...lines,
    `Fan-out of one post to ${FAN_OUT_FOLLOWERS.toLocaleString('en-US')} followers (Plaza with Redis feeds and job queue${fanOut.some((r) => r.finishedBy === 'outbox') ? ', fan-out through the outbox' : ''}):`,
    '',
    '| | median | per round |',
    '|---|--:|--:|',
    `| Plaza: POST /v1/posts sent → ${finishedBy} (post then checked in every feed), ms | ${median(plazaMs).toFixed(1)} | ${perRound(plazaMs, 1)} |`,
    `| of which until POST /v1/posts answered, ms | ${median(postMs).toFixed(1)} | ${perRound(postMs, 1)} |`,
    ...(pickedUpMs.length === 0 ? [] : [`| of which until a worker took the job, ms | ${median(pickedUpMs).toFixed(1)} | ${perRound(pickedUpMs, 1)} |`]),
    `| Plaza deliveries/s | ${rate(plazaRate)} | ${fanOut.map((r) => rate(r.plazaDeliveriesPerSecond)).join(' ')} |`,
    `| raw ioredis pipeline of ${FAN_OUT_FOLLOWERS.toLocaleString('en-US')} ZADDs, ms | ${median(rawMs).toFixed(1)} | ${perRound(rawMs, 1)} |`,
    `| raw ZADDs/s | ${rate(rawRate)} | ${fanOut.map((r) => rate(r.rawZaddsPerSecond)).join(' ')} |`,
    `| ratio (deliveries/s ÷ ZADDs/s) | ${ratio.toFixed(2)} | ${perRound(fanOut.map((r) => r.plazaDeliveriesPerSecond / r.rawZaddsPerSecond), 2)} |`,
    '',
    `Fan-out target (ratio ≥ ${FAN_OUT_TARGET_RATIO}): ${ratio >= FAN_OUT_TARGET_RATIO ? 'met' : '**not met**'}.`,
  ];
}

function log(profile: Profile, message: string): void {
  console.log(`[${profile.kind}] ${message}`);
}
