import { measureLoad, type LoadRequest, type Measurement } from './load.ts';
import { plazaServer } from './plaza.ts';
import type { Profile } from './profiles.ts';
import { withServer, type RunningServer, type ServerSpec } from './servers.ts';
import type { Settings } from './settings.ts';

/**
 * One thing a client does, as Plaza serves it and as the bare baseline does the same database work.
 * `target`: the ratio to the baseline Plaza is held to on PostgreSQL, if any. `connections`: when the
 * scenario is about a concurrency of its own, in place of the run's `BENCH_CONNECTIONS`.
 */
export type Scenario = { name: string; plaza: LoadRequest; baseline: LoadRequest; target?: number; connections?: number };

/** A family of scenarios sharing seed data and a baseline server. */
export type Suite = {
  name: string;
  /** A bare server doing each scenario's database work and nothing else: the floor Plaza is held to. */
  baselineScript: string;
  /** Fills the freshly migrated database through Plaza's API, and says what to measure on it. */
  seed(plazaUrl: string): Promise<Scenario[]>;
  /** SQL statements that undo what the scenarios wrote, so every turn starts from the same data. */
  resetSql: readonly string[];
};

/** Each side's measurements of one scenario, one per round, in round order. */
export type ScenarioRounds = { scenario: string; target?: number | undefined; plaza: Measurement[]; baseline: Measurement[] };

const SIDES = ['plaza', 'baseline'] as const;
type Side = (typeof SIDES)[number];

/**
 * Run before every turn: fresh planner statistics, as autovacuum keeps them on a server (PGlite has
 * no autovacuum). Without them the memo page can take a plan that reads all the user's memos, or
 * walks past rows others wrote since: 1–5 ms per query instead of 0.1, drowning what is measured.
 */
export const RESET_STATISTICS = 'vacuum analyze';

/**
 * Seeds, then measures Plaza and the baseline in turns. On PGlite only one process may open the
 * data directory, so each side's server is started for its turn and stopped before the other's.
 */
export async function runSuite(suite: Suite, profile: Profile, settings: Settings): Promise<ScenarioRounds[]> {
  log(profile, `${suite.name}: seeding`);
  const scenarios = await withServer(plazaServer(profile), (plaza) => suite.seed(plaza.url));
  const results = scenarios.map((scenario): ScenarioRounds => ({ scenario: scenario.name, target: scenario.target, plaza: [], baseline: [] }));
  const servers: Record<Side, ServerSpec> = {
    plaza: plazaServer(profile),
    baseline: { name: `${suite.name} baseline`, script: suite.baselineScript, env: profile.env },
  };
  for (let round = 1; round <= settings.rounds; round++) {
    // Swap who goes first each round, so a drift in the machine's load favours neither side.
    for (const side of round % 2 === 1 ? SIDES : SIDES.toReversed()) {
      await profile.runSql([...suite.resetSql, RESET_STATISTICS]);
      const measured = await withServer(servers[side], (server) => measureTurn(server, scenarios, side, settings));
      measured.forEach((measurement, index) => {
        results[index]![side].push(measurement);
        const what = `${side.padEnd(8)} ${scenarios[index]!.name.padEnd(40)}`;
        log(profile, `round ${round}/${settings.rounds} ${what} ${describe(measurement)}`);
      });
    }
  }
  return results;
}

/** Every scenario against one running server, each warmed up first; measurements in scenario order. */
async function measureTurn(
  server: RunningServer,
  scenarios: Scenario[],
  side: Side,
  settings: Settings,
): Promise<Measurement[]> {
  const measurements = [];
  for (const scenario of scenarios) {
    const connections = scenario.connections ?? settings.connections;
    await measureLoad(server.url, scenario[side], { connections, seconds: settings.warmupSeconds });
    measurements.push(await measureLoad(server.url, scenario[side], { connections, seconds: settings.seconds }));
  }
  return measurements;
}

function describe(measured: Measurement): string {
  const rate = Math.round(measured.requestsPerSecond).toString().padStart(6);
  return `${rate} req/s  p50 ${measured.p50Ms.toFixed(2)} ms  p99 ${measured.p99Ms.toFixed(2)} ms`;
}

function log(profile: Profile, message: string): void {
  console.log(`[${profile.kind}] ${message}`);
}
