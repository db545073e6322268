/**
 * The purchases suite: `POST /v1/posts/{id}/purchase` (a purchase row, guarded balance moves and
 * ledger entries in one transaction) next to a bare transaction of two guarded balance updates on
 * the same database, with many buyers buying from many sellers, and with 50 buyers racing to buy
 * from one seller (whose balance row every purchase credits: a lock convoy would show in p99).
 *
 * Every purchase must be a new (buyer, post) pair, so each request takes the next pair of a
 * prepared pool (see `PairPool`); every answer must be 201, and after each Plaza turn the ledger
 * check (`plaza admin ledger check`) must pass.
 */
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import autocannon from 'autocannon';
import pg from 'pg';
import { inParallel, requestJson } from './lib/http.ts';
import type { Measurement } from './lib/load.ts';
import { cpuSeconds } from './lib/proc.ts';
import { emailOf, plazaServer, signUp, type SignedInUser } from './lib/plaza.ts';
import type { Profile } from './lib/profiles.ts';
import { withServer, type RunningServer, type ServerSpec } from './lib/servers.ts';
import type { Settings } from './lib/settings.ts';
import { median, percentile } from './lib/stats.ts';
import type { ScenarioRounds } from './lib/suite.ts';

const BUYERS = 100;
const SELLERS = 50;
/** The first this many buyers race for the lone seller's posts: as many as the scenario's connections. */
const RACING_BUYERS = 50;
const PRICE_COINS = 10;
/** Pairs are prepared for up to this many purchases per second per scenario; more would run out (a 409). */
const PURCHASES_PER_SECOND_CEILING = 6_000;
const WRK_CONNECTIONS = 50;
/** A purchase should keep at least this share of the bare two-update transaction's throughput (issue 12). */
const PURCHASE_TARGET_RATIO = 0.5;
const SEED_CONCURRENCY = 8;
const ADMIN = 'purchases-admin';
const BASELINE_SCRIPT = fileURLToPath(new URL('./baselines/purchases-server.ts', import.meta.url));
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const POST_TEXT = 'The full set from Saturday: 40 frames of the harbour at dawn, edited, with the map of where each was taken.';

type PaidPost = { id: string; sellerId: string };

/**
 * (buyer, post) pairs, each used once per turn. Pair k is buyer k mod B and post (⌊k/B⌋ + k) mod P:
 * a buyer meets each post once in P of its pairs, and requests in flight together hold consecutive
 * pairs, so distinct buyers and (posts being dealt to sellers in turn) distinct sellers, unless
 * there is one seller.
 */
class PairPool {
  readonly buyers: readonly SignedInUser[];
  readonly posts: readonly PaidPost[];
  readonly capacity: number;
  #next = 0;

  constructor(buyers: readonly SignedInUser[], posts: readonly PaidPost[]) {
    this.buyers = buyers;
    this.posts = posts;
    this.capacity = buyers.length * posts.length;
  }

  /** From the first pair again: each turn starts with no purchase made. */
  restart(): void {
    this.#next = 0;
  }

  take(): { buyer: SignedInUser; post: PaidPost } {
    const k = this.#next++;
    if (k >= this.capacity) throw new Error(`all ${this.capacity} (buyer, post) pairs used: raise PURCHASES_PER_SECOND_CEILING`);
    const b = k % this.buyers.length;
    return { buyer: this.buyers[b]!, post: this.posts[(Math.floor(k / this.buyers.length) + b) % this.posts.length]! };
  }
}

type Side = 'plaza' | 'baseline';
type Scenario = { name: string; pool: PairPool; connections: number; target?: number };

export type PurchasesResults = {
  rounds: ScenarioRounds[];
  seedSeconds: number;
  users: { buyers: number; sellers: number };
  posts: { manySellers: number; oneSeller: number };
  /** Per scenario, in the order of `rounds`: each side's server CPU time per answer, ms, one per round. */
  cpuMs: Record<Side, number[]>[];
  /** One line per Plaza turn: purchases recorded, answers counted, what the ledger check said. */
  turns: string[];
  loadAverage: { before: number[]; after: number[] };
};

export async function runPurchasesSuite(profile: Profile, settings: Settings): Promise<PurchasesResults> {
  const before = loadavg();
  const plain = plazaServer(profile);
  const plaza: ServerSpec = { ...plain, env: { ...plain.env, ADMIN_EMAILS: emailOf(ADMIN) } };
  const baseline: ServerSpec = { name: 'purchases baseline', script: BASELINE_SCRIPT, env: profile.env };
  log(profile, 'purchases: seeding');
  const started = performance.now();
  const seeded = await withServer(plaza, (server) => seed(server.url, settings));
  const seedSeconds = (performance.now() - started) / 1000;
  log(profile, `purchases: seeded in ${seedSeconds.toFixed(1)} s`);

  const scenarios: Scenario[] = [
    { name: `POST /v1/posts/{id}/purchase, ${BUYERS} buyers × ${SELLERS} sellers`, pool: seeded.manySellers, connections: settings.connections, target: PURCHASE_TARGET_RATIO },
    { name: `POST /v1/posts/{id}/purchase, ${BUYERS} buyers × ${SELLERS} sellers, ${WRK_CONNECTIONS} connections`, pool: seeded.manySellers, connections: WRK_CONNECTIONS, target: PURCHASE_TARGET_RATIO },
    { name: `POST /v1/posts/{id}/purchase, ${RACING_BUYERS} buyers × one seller, ${WRK_CONNECTIONS} connections`, pool: seeded.oneSeller, connections: WRK_CONNECTIONS },
  ];
  const rounds = scenarios.map((s): ScenarioRounds => ({ scenario: s.name, target: s.target, plaza: [], baseline: [] }));
  const cpuMs = scenarios.map((): Record<Side, number[]> => ({ plaza: [], baseline: [] }));
  const turns: string[] = [];
  const servers: Record<Side, ServerSpec> = { plaza, baseline };
  for (let round = 1; round <= settings.rounds; round++) {
    // Swap who goes first each round, so a drift in the machine's load favours neither side.
    for (const side of round % 2 === 1 ? (['plaza', 'baseline'] as const) : (['baseline', 'plaza'] as const)) {
      await profile.runSql(RESET_SQL);
      for (const pool of new Set(scenarios.map((s) => s.pool))) pool.restart();
      const measured = await withServer(servers[side], (server) => measureTurn(server, side, scenarios, settings, profile));
      measured.forEach(({ measurement, cpuMsPerAnswer }, index) => {
        rounds[index]![side].push(measurement);
        cpuMs[index]![side].push(cpuMsPerAnswer);
        log(profile, `round ${round}/${settings.rounds} ${side.padEnd(8)} ${scenarios[index]!.name.padEnd(78)} ${describe(measurement)}  CPU ${cpuMsPerAnswer.toFixed(2)} ms/answer`);
      });
      if (side === 'plaza') {
        const turn = await checkPlazaTurn(profile, measured.reduce((sum, m) => sum + m.created, 0));
        log(profile, `round ${round}/${settings.rounds} ${turn}`);
        turns.push(`round ${round}: ${turn}`);
      }
    }
  }
  return {
    rounds,
    seedSeconds,
    users: { buyers: BUYERS, sellers: SELLERS + 1 },
    posts: { manySellers: seeded.manySellers.posts.length, oneSeller: seeded.oneSeller.posts.length },
    cpuMs,
    turns,
    loadAverage: { before, after: loadavg() },
  };
}

/**
 * Through Plaza's API: an operator (ADMIN_EMAILS), the buyers, the sellers and the lone seller sign
 * up; the sellers post enough paid posts for every scenario's pairs, the many sellers' dealt out in
 * turn; the operator grants each buyer enough coins to buy every post once.
 */
async function seed(plazaUrl: string, settings: Settings): Promise<{ manySellers: PairPool; oneSeller: PairPool }> {
  const labels = [
    ADMIN,
    'purchases-lone-seller',
    ...Array.from({ length: BUYERS }, (_, i) => `purchases-buyer-${i}`),
    ...Array.from({ length: SELLERS }, (_, i) => `purchases-seller-${i}`),
  ];
  const [admin, loneSeller, ...rest] = await inParallel(labels, SEED_CONCURRENCY, (label) => signUp(plazaUrl, label));
  const buyers = rest.slice(0, BUYERS);
  const sellers = rest.slice(BUYERS);
  const purchasesPerScenario = (settings.warmupSeconds + settings.seconds) * PURCHASES_PER_SECOND_CEILING;
  // The two many-seller scenarios draw on one pool within a turn.
  const manyPosts = Math.ceil((2 * purchasesPerScenario) / BUYERS / SELLERS) * SELLERS;
  const lonePosts = Math.ceil(purchasesPerScenario / RACING_BUYERS);
  const authors = [
    ...Array.from({ length: manyPosts }, (_, i) => sellers[i % SELLERS]!),
    ...Array.from({ length: lonePosts }, () => loneSeller!),
  ];
  const posts = await inParallel(authors, SEED_CONCURRENCY, async (seller): Promise<PaidPost> => {
    const post = await requestJson<{ id: string }>('POST', `${plazaUrl}/v1/posts`, {
      token: seller.accessToken,
      body: { text: POST_TEXT, priceCoins: PRICE_COINS },
    });
    return { id: post.id, sellerId: seller.id };
  });
  const coins = (manyPosts + lonePosts) * PRICE_COINS;
  await inParallel(buyers, SEED_CONCURRENCY, (buyer) =>
    requestJson('POST', `${plazaUrl}/v1/admin/grants`, { token: admin!.accessToken, body: { handle: buyer.handle, coins, reason: 'purchases bench' } }),
  );
  console.log(`  ${buyers.length} buyers with ${coins} coins each; ${manyPosts} posts by ${SELLERS} sellers, ${lonePosts} by one, at ${PRICE_COINS} coins`);
  return { manySellers: new PairPool(buyers, posts.slice(0, manyPosts)), oneSeller: new PairPool(buyers.slice(0, RACING_BUYERS), posts.slice(manyPosts)) };
}

/**
 * Undoes every purchase, so each turn starts from the seeded state: the purchases, their ledger
 * transactions and entries (the append-only trigger is set aside for it), the sellers' wallets
 * they made, balances back to their entries' sum, the outbox emptied; and the baseline's wallets made afresh from
 * Plaza's, a row per user (the sellers' at 0).
 */
const RESET_SQL = [
  'delete from purchases',
  'alter table ledger_entries disable trigger ledger_entries_append_only',
  `delete from ledger_entries where transaction_id in (select id from ledger_transactions where kind = 'purchase')`,
  'alter table ledger_entries enable trigger ledger_entries_append_only',
  `delete from ledger_transactions where kind = 'purchase'`,
  `delete from wallet_accounts a where a.kind = 'wallet' and not exists (select 1 from ledger_entries e where e.account_id = a.id)`,
  `update wallet_accounts a set balance = coalesce((select sum(e.amount) from ledger_entries e where e.account_id = a.id), 0) where a.kind in ('wallet', 'debt')`,
  // Events a turn left behind (each purchase emits one) would be handled in the next one, on its clock.
  'delete from outbox_events',
  'drop table if exists bench_wallets',
  'create table bench_wallets (id text primary key, balance bigint not null check (balance >= 0))',
  `insert into bench_wallets (id, balance) select u.id, coalesce(a.balance, 0) from users u left join wallet_accounts a on a.id = 'wallet:' || u.id`,
  'vacuum analyze',
];

type Measured = { measurement: Measurement; created: number; cpuMsPerAnswer: number };

/**
 * What a turn writes, analyzed after each warm-up (PostgreSQL; PGlite is open in the server): the
 * reset leaves these tables empty, and on a server without autovacuum (as the bench's may be) their
 * statistics would say so all turn long. Plans cached while they did, Plaza's prepared statements
 * and PostgreSQL's own foreign-key checks, scan the whole table for each row, a cost that grows
 * with every purchase of the turn and that no deployment has: autovacuum analyzes a table that grew.
 */
const ANALYZE_SQL = ['analyze purchases, ledger_transactions, ledger_entries, wallet_accounts, outbox_events, bench_wallets'];

async function measureTurn(server: RunningServer, side: Side, scenarios: readonly Scenario[], settings: Settings, profile: Profile): Promise<Measured[]> {
  const measured: Measured[] = [];
  for (const scenario of scenarios) {
    const warmUp = await measurePurchases(server, side, scenario, settings.warmupSeconds);
    if (profile.kind === 'postgres') await profile.runSql(ANALYZE_SQL);
    const run = await measurePurchases(server, side, scenario, settings.seconds);
    measured.push({ ...run, created: warmUp.created + run.created });
  }
  return measured;
}

/**
 * autocannon over the scenario's connections, each request built just before it is sent from the
 * pool's next pair. Every answer must be 201: any other fails the run, with a few of their bodies.
 */
async function measurePurchases(server: RunningServer, side: Side, scenario: Scenario, seconds: number): Promise<Measured> {
  const latenciesMs: number[] = [];
  const refusals: string[] = [];
  const next = (): autocannon.Request => {
    const { buyer, post } = scenario.pool.take();
    return side === 'plaza'
      ? { method: 'POST', path: `/v1/posts/${post.id}/purchase`, headers: { authorization: `Bearer ${buyer.accessToken}` } }
      : { method: 'POST', path: `/wallets/${buyer.id}/pay/${post.sellerId}/${PRICE_COINS}` };
  };
  const cpuBefore = cpuSeconds(server.pid);
  const run = autocannon({
    url: server.url,
    connections: scenario.connections,
    duration: seconds,
    requests: [
      {
        setupRequest: (request) => ({ ...request, ...next() }),
        onResponse: (status, body) => {
          if (status !== 201 && refusals.length < 5) refusals.push(`${status} ${body.slice(0, 300)}`);
        },
      },
    ],
  });
  run.on('response', (_client, _status, _bytes, responseTimeMs) => latenciesMs.push(responseTimeMs));
  const result = await run;
  const cpuMs = (cpuSeconds(server.pid) - cpuBefore) * 1000;
  const created = result.statusCodeStats['201']?.count ?? 0;
  const others = Object.entries(result.statusCodeStats).filter(([status]) => status !== '201');
  if (result.errors > 0 || others.length > 0) {
    throw new Error(
      `${side} ${scenario.name}: ${result.errors} connection errors, ${others.reduce((sum, [, { count }]) => sum + count, 0)} answers not 201 ` +
        `(${others.map(([status, { count }]) => `${status}×${count}`).join(', ')}); first ones:\n${refusals.join('\n')}`,
    );
  }
  latenciesMs.sort((a, b) => a - b);
  return {
    measurement: { requestsPerSecond: result.requests.average, p50Ms: percentile(latenciesMs, 50), p99Ms: percentile(latenciesMs, 99) },
    created,
    cpuMsPerAnswer: cpuMs / latenciesMs.length,
  };
}

/**
 * After a Plaza turn: `plaza admin ledger check` on the profile's database must pass, and at least
 * as many purchases must be recorded as were answered 201 (a few more when requests were still in
 * flight as a measurement stopped).
 */
async function checkPlazaTurn(profile: Profile, answered: number): Promise<string> {
  const recorded = await countPurchases(profile);
  if (recorded < answered) throw new Error(`purchases: ${answered} purchases answered 201, but only ${recorded} recorded`);
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...profile.env, LOG_LEVEL: 'warn' };
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [MAIN, 'admin', 'ledger', 'check'], { env });
    return `${recorded} purchases recorded, ${answered} answered 201; ledger check: ${stdout.trim()}`;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`purchases: the ledger check failed after ${recorded} purchases:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

/** Rows in `purchases`, with the database opened as Plaza opens it (PGlite: only while no server has it). */
async function countPurchases(profile: Profile): Promise<number> {
  const sql = 'select count(*)::int as n from purchases';
  const env = profile.env;
  if (env.DATABASE_URL === undefined) {
    const pglite = await PGlite.create({ dataDir: join(env.DATA_DIR!, 'db') });
    try {
      return (await pglite.query<{ n: number }>(sql)).rows[0]!.n;
    } finally {
      await pglite.close();
    }
  }
  const client = new pg.Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.DATABASE_SCHEMA}` });
  await client.connect();
  try {
    return (await client.query<{ n: number }>(sql)).rows[0]!.n;
  } finally {
    await client.end();
  }
}

/** The suite's own section: what was seeded, what each Plaza turn left, and whether one seller's row is a convoy. */
export function renderPurchasesSection(title: string, results: PurchasesResults): string[] {
  const [, many50, oneSeller] = results.rounds;
  const load = (values: number[]) => values.map((v) => v.toFixed(2)).join(' / ');
  const lines = [
    `### ${title}`,
    '',
    `Seeding through the API (${results.users.buyers} buyers, ${results.users.sellers} sellers, ` +
      `${results.posts.manySellers} + ${results.posts.oneSeller} paid posts, coins granted by an operator): ${results.seedSeconds.toFixed(1)} s. ` +
      `Load average (1 / 5 / 15 min) before the suite ${load(results.loadAverage.before)}, after ${load(results.loadAverage.after)}. ` +
      'The rows are in the profile\'s table above; every answer was 201.',
    '',
    ...results.turns.map((turn) => `- ${turn}`),
  ];
  if (many50 === undefined || oneSeller === undefined) return lines;
  const rate = (rounds: Measurement[]) => median(rounds.map((m) => m.requestsPerSecond));
  const p99 = (rounds: Measurement[]) => median(rounds.map((m) => m.p99Ms));
  const row = (side: Side) =>
    `| ${side === 'plaza' ? 'Plaza' : 'baseline'} | ${Math.round(rate(many50[side]))} | ${Math.round(rate(oneSeller[side]))} | ` +
    `${(rate(oneSeller[side]) / rate(many50[side])).toFixed(2)} | ${p99(many50[side]).toFixed(1)} | ${p99(oneSeller[side]).toFixed(1)} |`;
  const cpuRows = results.rounds.map(
    (rounds, index) =>
      `| ${rounds.scenario} | ${median(results.cpuMs[index]!.plaza).toFixed(2)} | ${median(results.cpuMs[index]!.baseline).toFixed(2)} |`,
  );
  return [
    ...lines,
    '',
    'Server process CPU time (user + system) per answer, medians over rounds (PostgreSQL\'s own time is not in it):',
    '',
    '| scenario | Plaza CPU ms | baseline CPU ms |',
    '|---|--:|--:|',
    ...cpuRows,
    '',
    `One seller's balance row credited by every purchase, against ${SELLERS} sellers, both at ${WRK_CONNECTIONS} connections (a lock convoy would cut the rate and stretch p99):`,
    '',
    `| | req/s, ${SELLERS} sellers | req/s, one seller | one ÷ many | p99 ms, ${SELLERS} sellers | p99 ms, one seller |`,
    '|---|--:|--:|--:|--:|--:|',
    row('plaza'),
    row('baseline'),
  ];
}

function describe(measured: Measurement): string {
  const rate = Math.round(measured.requestsPerSecond).toString().padStart(6);
  return `${rate} req/s  p50 ${measured.p50Ms.toFixed(2)} ms  p99 ${measured.p99Ms.toFixed(2)} ms`;
}

function log(profile: Profile, message: string): void {
  console.log(`[${profile.kind}] ${message}`);
}
