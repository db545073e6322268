/**
 * `npm run bench`: every suite on every database profile, each figure next to a bare baseline run
 * in the same session, printed as markdown and written to bench/results/latest.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fleetSummaryRows, renderFleetSection, runFleetSuite } from './fleet.ts';
import { footprintSummaryRows, renderFootprintSection, runFootprintSuite, type FootprintResults } from './footprint.ts';
import { memosSuite } from './memos.ts';
import { runMediaSuite } from './media.ts';
import { renderSocialSection, runSocialSuite, socialSummaryRows } from './social.ts';
import { renderPurchasesSection, runPurchasesSuite } from './purchases.ts';
import { renderStreamSection, runStreamSuite, streamSummaryRows } from './stream.ts';
import { mediaSummaryRows, renderMediaIntro, renderMediaSection } from './lib/media-report.ts';
import { readMediaSettings, type MediaSettings } from './lib/media-settings.ts';
import { cleanUpOnSignals } from './lib/cleanup.ts';
import { withProfile, type Profile } from './lib/profiles.ts';
import { renderReport, summarize, type ProfileReport, type ScenarioSummary } from './lib/report.ts';
import { readSettings, type Settings } from './lib/settings.ts';
import { runSuite } from './lib/suite.ts';
import { renderSummary, scenarioRows, type SummaryRow } from './lib/summary.ts';

const SUITES = [memosSuite];
/** Suites with their own shape (uploads, memory, processing), reported in a section of their own. */
const SUITE_NAMES = ['footprint', ...SUITES.map((suite) => suite.name), 'media', 'social', 'purchases', 'stream', 'fleet'];
const RESULTS_DIR = new URL('./results/', import.meta.url);

/** What the suites give the report beside each profile's table, gathered over the profiles. */
type Collected = {
  readonly mediaSettings: MediaSettings;
  readonly sections: Record<'media' | 'social' | 'purchases' | 'stream' | 'fleet', string[]>;
  readonly footprint: { title: string; results: FootprintResults }[];
  readonly summary: SummaryRow[];
};

async function benchProfile(profile: Profile, settings: Settings, suites: readonly string[], collected: Collected): Promise<ProfileReport> {
  const { sections, footprint, summary } = collected;
  const summaries: ScenarioSummary[] = [];
  /** The autocannon rows go in the profile's table and, with the suite's name, in the summary. */
  const addScenarios = (suite: string, added: ScenarioSummary[]) => {
    summaries.push(...added);
    summary.push(...scenarioRows(profile, suite, added));
  };
  // First, while no other suite's data or processes weigh on the machine.
  if (suites.includes('footprint')) {
    const results = await runFootprintSuite(profile, settings);
    footprint.push({ title: profile.title, results });
    summary.push(...footprintSummaryRows(profile.title, results));
  }
  for (const suite of SUITES.filter((suite) => suites.includes(suite.name))) {
    addScenarios(suite.name, (await runSuite(suite, profile, settings)).map(summarize));
  }
  if (suites.includes('media')) {
    const results = await runMediaSuite(profile, settings, collected.mediaSettings);
    addScenarios('media', [summarize(results.rangedReads)]);
    summary.push(...mediaSummaryRows(profile.title, results));
    sections.media.push('', ...renderMediaSection(profile.title, results));
  }
  if (suites.includes('social')) {
    const results = await runSocialSuite(profile, settings);
    addScenarios('social', results.rounds.map(summarize));
    summary.push(...socialSummaryRows(profile.title, results));
    sections.social.push('', ...renderSocialSection(profile.title, results));
  }
  if (suites.includes('purchases')) {
    const results = await runPurchasesSuite(profile, settings);
    addScenarios('purchases', results.rounds.map(summarize));
    sections.purchases.push('', ...renderPurchasesSection(profile.title, results));
  }
  if (suites.includes('stream')) {
    const results = await runStreamSuite(profile, settings);
    summary.push(...streamSummaryRows(profile.title, results));
    sections.stream.push('', ...renderStreamSection(profile.title, results));
  }
  if (suites.includes('fleet')) {
    const results = await runFleetSuite(profile, settings);
    summary.push(...fleetSummaryRows(profile.title, results));
    sections.fleet.push('', ...renderFleetSection(profile.title, results));
  }
  return profile.kind === 'postgres'
    ? { title: profile.title, summaries, verdict: postgresVerdict(summaries) }
    : { title: profile.title, summaries };
}

/** Each scenario with a target, met or not, on PostgreSQL. */
function postgresVerdict(summaries: readonly ScenarioSummary[]): string {
  const held = summaries.filter((s) => s.target !== undefined);
  if (held.length === 0) return 'No scenario here has a target.';
  const verdicts = held.map((s) => `${s.scenario} ≥ ${s.target}: ${s.ratio >= s.target! ? 'met' : '**not met**'} (${s.ratio.toFixed(2)})`);
  return `Targets (ratio on PostgreSQL): ${verdicts.join('; ')}.`;
}

/** BENCH_SUITES: a comma-separated list of suite names; all by default. */
function selectedSuites(raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return SUITE_NAMES;
  const names = raw.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !SUITE_NAMES.includes(name));
  if (unknown.length > 0) throw new Error(`BENCH_SUITES takes ${SUITE_NAMES.join(', ')} (got "${unknown.join(', ')}")`);
  return names;
}

async function main(): Promise<void> {
  cleanUpOnSignals();
  const settings = readSettings();
  const suites = selectedSuites(process.env.BENCH_SUITES);
  const started = performance.now();
  const reports: ProfileReport[] = [];
  const collected: Collected = {
    mediaSettings: readMediaSettings(),
    sections: { media: [], social: [], purchases: [], stream: [], fleet: [] },
    footprint: [],
    summary: [],
  };
  for (const kind of settings.profiles) reports.push(await withProfile(kind, (profile) => benchProfile(profile, settings, suites, collected)));
  const { sections, footprint } = collected;
  let report = renderReport(settings, reports, (performance.now() - started) / 1000, renderSummary(collected.summary));
  if (footprint.length > 0) {
    report += ['', '## Footprint', '', ...renderFootprintSection(settings, footprint), ''].join('\n');
  }
  if (sections.media.length > 0) {
    report += ['', '## Media', '', ...renderMediaIntro(collected.mediaSettings), ...sections.media, ''].join('\n');
  }
  for (const [name, title] of [['social', 'Social'], ['purchases', 'Purchases'], ['stream', 'Stream'], ['fleet', 'Fleet']] as const) {
    if (sections[name].length > 0) report += ['', `## ${title}`, '', ...sections[name], ''].join('\n');
  }
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
