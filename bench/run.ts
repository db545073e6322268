/**
 * `npm run bench`: every suite on every database profile, each figure next to a bare baseline run
 * in the same session, printed as markdown and written to bench/results/latest.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { memosSuite } from './memos.ts';
import { cleanUpOnSignals } from './lib/cleanup.ts';
import { withProfile, type Profile } from './lib/profiles.ts';
import { renderReport, summarize, type ProfileReport, type ScenarioSummary } from './lib/report.ts';
import { readSettings, type Settings } from './lib/settings.ts';
import { runSuite } from './lib/suite.ts';

const SUITES = [memosSuite];
/** Plaza should keep at least this share of the floor's throughput on PostgreSQL. */
const POSTGRES_TARGET_RATIO = 0.6;
const RESULTS_DIR = new URL('./results/', import.meta.url);

async function benchProfile(profile: Profile, settings: Settings): Promise<ProfileReport> {
  const summaries: ScenarioSummary[] = [];
  for (const suite of SUITES) summaries.push(...(await runSuite(suite, profile, settings)).map(summarize));
  return profile.kind === 'postgres'
    ? { title: profile.title, summaries, verdict: postgresVerdict(summaries) }
    : { title: profile.title, summaries };
}

function postgresVerdict(summaries: readonly ScenarioSummary[]): string {
  const missed = summaries.filter((s) => s.ratio < POSTGRES_TARGET_RATIO);
  const target = `Target (ratio ≥ ${POSTGRES_TARGET_RATIO} on PostgreSQL)`;
  if (missed.length === 0) return `${target}: met by every scenario.`;
  return `${target}: **not met** by ${missed.map((s) => `${s.scenario} (${s.ratio.toFixed(2)})`).join(', ')}.`;
}

async function main(): Promise<void> {
  cleanUpOnSignals();
  const settings = readSettings();
  const started = performance.now();
  const reports: ProfileReport[] = [];
  for (const kind of settings.profiles) {
    reports.push(await withProfile(kind, (profile) => benchProfile(profile, settings)));
  }
  const report = renderReport(settings, reports, (performance.now() - started) / 1000);
  console.log(`\n${report}`);
  // A run that measured nothing must not replace the last real results.
  if (reports.every((profile) => 'skipped' in profile)) return;
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(new URL('latest.md', RESULTS_DIR), report);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
