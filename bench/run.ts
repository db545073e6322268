/**
 * `npm run bench`: every suite on every database profile, each figure next to a bare baseline run
 * in the same session, printed as markdown and written to bench/results/latest.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { renderFootprintSection, runFootprintSuite, type FootprintResults } from './footprint.ts';
import { memosSuite } from './memos.ts';
import { runMediaSuite } from './media.ts';
import { renderSocialSection, runSocialSuite } from './social.ts';
import { renderPurchasesSection, runPurchasesSuite } from './purchases.ts';
import { renderStreamSection, runStreamSuite } from './stream.ts';
import { renderMediaIntro, renderMediaSection } from './lib/media-report.ts';
import { readMediaSettings, type MediaSettings } from './lib/media-settings.ts';
import { cleanUpOnSignals } from './lib/cleanup.ts';
import { withProfile, type Profile } from './lib/profiles.ts';
import { renderReport, summarize, type ProfileReport, type ScenarioSummary } from './lib/report.ts';
import { readSettings, type Settings } from './lib/settings.ts';
import { runSuite } from './lib/suite.ts';

const SUITES = [memosSuite];
/** Suites with their own shape (uploads, memory, processing), reported in a section of their own. */
const SUITE_NAMES = ['footprint', ...SUITES.map((suite) => suite.name), 'media', 'social', 'purchases', 'stream'];
const RESULTS_DIR = new URL('./results/', import.meta.url);

async function benchProfile(
  profile: Profile,
  settings: Settings,
  suites: readonly string[],
  media: { settings: MediaSettings; sections: string[] },
  social: { sections: string[] } = { sections: [] },
  purchases: { sections: string[] } = { sections: [] },
  stream: { sections: string[] } = { sections: [] },
  footprint: { title: string; results: FootprintResults }[] = [],
): Promise<ProfileReport> {
  const summaries: ScenarioSummary[] = [];
  // First, while no other suite's data or processes weigh on the machine.
  if (suites.includes('footprint')) footprint.push({ title: profile.title, results: await runFootprintSuite(profile, settings) });
  for (const suite of SUITES.filter((suite) => suites.includes(suite.name))) {
    summaries.push(...(await runSuite(suite, profile, settings)).map(summarize));
  }
  if (suites.includes('media')) {
    const results = await runMediaSuite(profile, settings, media.settings);
    summaries.push(summarize(results.rangedReads));
    media.sections.push('', ...renderMediaSection(profile.title, results));
  }
  if (suites.includes('social')) {
    const results = await runSocialSuite(profile, settings);
    summaries.push(...results.rounds.map(summarize));
    social.sections.push('', ...renderSocialSection(profile.title, results));
  }
  if (suites.includes('purchases')) {
    const results = await runPurchasesSuite(profile, settings);
    summaries.push(...results.rounds.map(summarize));
    purchases.sections.push('', ...renderPurchasesSection(profile.title, results));
  }
  if (suites.includes('stream')) stream.sections.push('', ...renderStreamSection(profile.title, await runStreamSuite(profile, settings)));
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
  const media = { settings: readMediaSettings(), sections: [] as string[] };
  const social = { sections: [] as string[] };
  const purchases = { sections: [] as string[] };
  const stream = { sections: [] as string[] };
  const footprint: { title: string; results: FootprintResults }[] = [];
  for (const kind of settings.profiles) {
    reports.push(await withProfile(kind, (profile) => benchProfile(profile, settings, suites, media, social, purchases, stream, footprint)));
  }
  let report = renderReport(settings, reports, (performance.now() - started) / 1000);
  if (footprint.length > 0) {
    report += ['', '## Footprint', '', ...renderFootprintSection(settings, footprint), ''].join('\n');
  }
  if (media.sections.length > 0) {
    report += ['', '## Media', '', ...renderMediaIntro(media.settings), ...media.sections, ''].join('\n');
  }
  if (social.sections.length > 0) {
    report += ['', '## Social', '', ...social.sections, ''].join('\n');
  }
  if (purchases.sections.length > 0) {
    report += ['', '## Purchases', '', ...purchases.sections, ''].join('\n');
  }
  if (stream.sections.length > 0) {
    report += ['', '## Stream', '', ...stream.sections, ''].join('\n');
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
