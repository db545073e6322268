import { cpus, platform, arch } from 'node:os';
import type { Settings } from './settings.ts';
import type { ScenarioRounds } from './suite.ts';
import { median } from './stats.ts';

/** One scenario's line in the report: medians over rounds, and Plaza's share of the baseline's rate. */
export type ScenarioSummary = {
  scenario: string;
  /** The ratio Plaza is held to on PostgreSQL, if any. */
  target: number | undefined;
  plazaRps: number;
  baselineRps: number;
  /** Plaza's median rate over the baseline's: 1 would mean Plaza costs nothing above its SQL. */
  ratio: number;
  /** Each round's ratio, to show how much the machine's noise moves it. */
  roundRatios: number[];
  plazaP50Ms: number;
  plazaP99Ms: number;
  baselineP50Ms: number;
  baselineP99Ms: number;
};

export type ProfileReport =
  | { title: string; summaries: ScenarioSummary[]; verdict?: string }
  | { title: string; skipped: string };

export function summarize(rounds: ScenarioRounds): ScenarioSummary {
  const plazaRps = median(rounds.plaza.map((m) => m.requestsPerSecond));
  const baselineRps = median(rounds.baseline.map((m) => m.requestsPerSecond));
  return {
    scenario: rounds.scenario,
    target: rounds.target,
    plazaRps,
    baselineRps,
    ratio: plazaRps / baselineRps,
    roundRatios: rounds.plaza.map((m, round) => m.requestsPerSecond / rounds.baseline[round]!.requestsPerSecond),
    plazaP50Ms: median(rounds.plaza.map((m) => m.p50Ms)),
    plazaP99Ms: median(rounds.plaza.map((m) => m.p99Ms)),
    baselineP50Ms: median(rounds.baseline.map((m) => m.p50Ms)),
    baselineP99Ms: median(rounds.baseline.map((m) => m.p99Ms)),
  };
}

/** `summary`: the lines that go first, after the run's description (see summary.ts). */
export function renderReport(settings: Settings, profiles: readonly ProfileReport[], totalSeconds: number, summary: readonly string[] = []): string {
  const when = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const machine = `${platform()}/${arch()}, ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'})`;
  const lines = [
    '# Plaza benchmarks',
    '',
    `${when} · Node ${process.version} · ${machine}`,
    '',
    `${settings.connections} connections unless a scenario names its own; per round, each side gets ${settings.warmupSeconds} s of warm-up ` +
      `then ${settings.seconds} s measured per scenario; ` +
      `${settings.rounds} round${settings.rounds === 1 ? '' : 's'} alternating Plaza and baseline; ` +
      `figures are medians over rounds. ` +
      `Baseline: a bare Fastify route doing the same SQL on the same database, without auth, validation or logging. ` +
      `Before each turn, what the scenarios wrote is deleted and \`vacuum analyze\` runs, ` +
      `so every turn sees the same data. ` +
      `Whole run: ${Math.round(totalSeconds)} s.`,
  ];
  if (summary.length > 0) lines.push('', ...summary);
  for (const profile of profiles) lines.push('', `## ${profile.title}`, '', ...profileSection(profile));
  return `${lines.join('\n')}\n`;
}

function profileSection(profile: ProfileReport): string[] {
  if ('skipped' in profile) return [`Skipped: ${profile.skipped}.`];
  if (profile.summaries.length === 0) return ['No throughput scenario in this run; see the sections below.'];
  const table = [
    '| scenario | Plaza req/s | baseline req/s | ratio | ratio per round | Plaza p50 / p99 ms ' +
      '| baseline p50 / p99 ms |',
    '|---|--:|--:|--:|--:|--:|--:|',
    ...profile.summaries.map(
      (s) =>
        `| ${s.scenario} | ${rate(s.plazaRps)} | ${rate(s.baselineRps)} | ${s.ratio.toFixed(2)} | ` +
        `${s.roundRatios.map((r) => r.toFixed(2)).join(' ')} | ${ms(s.plazaP50Ms)} / ${ms(s.plazaP99Ms)} | ` +
        `${ms(s.baselineP50Ms)} / ${ms(s.baselineP99Ms)} |`,
    ),
  ];
  return profile.verdict === undefined ? table : [...table, '', profile.verdict];
}

function rate(requestsPerSecond: number): string {
  return Math.round(requestsPerSecond).toLocaleString('en-US');
}

function ms(milliseconds: number): string {
  return milliseconds.toFixed(milliseconds < 10 ? 2 : 1);
}
