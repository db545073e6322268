import type { Profile } from './profiles.ts';
import type { ScenarioSummary } from './report.ts';

/**
 * One line of the summary at the top of the report: a path (or a suite's own figure) on one profile,
 * Plaza's figure in the suite's unit, its ratio, and its target met or not.
 */
export type SummaryRow = {
  profile: string;
  suite: string;
  what: string;
  /** With its unit: "1,234 req/s", "310 MiB/s", "42.0 MiB". */
  plaza: string;
  /** Plaza ÷ its baseline (fleet: two instances ÷ one); undefined where the figure has none. */
  ratio?: number | undefined;
  /** What the figure is held to, e.g. "ratio ≥ 0.6"; undefined where nothing is. */
  target?: string | undefined;
  /** Undefined when the target is not judged on this profile. */
  met?: boolean | undefined;
};

/** The autocannon suites' rows. Their ratio targets are held on PostgreSQL only (see run.ts's verdict). */
export function scenarioRows(profile: Profile, suite: string, summaries: readonly ScenarioSummary[]): SummaryRow[] {
  const judged = profile.kind === 'postgres';
  return summaries.map((s) => ({
    profile: profile.title,
    suite,
    what: s.scenario,
    plaza: `${requestRate(s.plazaRps)} req/s`,
    ratio: s.ratio,
    target: s.target === undefined ? undefined : `ratio ≥ ${s.target}${judged ? '' : ' on PostgreSQL'}`,
    met: s.target === undefined || !judged ? undefined : s.ratio >= s.target,
  }));
}

export function renderSummary(rows: readonly SummaryRow[]): string[] {
  if (rows.length === 0) return [];
  const judged = rows.filter((row) => row.met !== undefined);
  const missed = judged.filter((row) => row.met === false);
  return [
    '## Summary',
    '',
    'Every path and figure this run measured, per profile; the sections below give the details.',
    '',
    '| profile | suite | path or figure | Plaza | ratio | target | |',
    '|---|---|---|--:|--:|---|---|',
    ...rows.map(
      (row) =>
        `| ${row.profile} | ${row.suite} | ${row.what} | ${row.plaza} | ${row.ratio === undefined ? '–' : row.ratio.toFixed(2)} | ` +
        `${row.target ?? '–'} | ${row.met === undefined ? '' : row.met ? 'met' : '**not met**'} |`,
    ),
    '',
    `Targets judged: ${judged.length}, met: ${judged.length - missed.length}` +
      (missed.length === 0 ? '.' : `; not met: ${missed.map((row) => `${row.suite} ${row.what} (${row.profile})`).join('; ')}.`),
  ];
}

export function requestRate(perSecond: number): string {
  return Math.round(perSecond).toLocaleString('en-US');
}
