import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

/**
 * Settings PGlite starts with, beside its own. PostgreSQL's 128 MB of shared buffers (initdb's pick)
 * live in PGlite's WebAssembly memory, which never shrinks: every page read since start stays
 * resident. 16 MB keeps an embedded server small; pages beyond it are read again through the OS's
 * page cache, which costs about a tenth of the throughput of random reads over a table far larger
 * than the buffers, and nothing on a working set that fits.
 */
const SETTINGS = ['shared_buffers=16MB'];

const PGLITE_VERSION: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.resolve('@electric-sql/pglite')), 'utf8'),
).version;

export type PGliteOptions = {
  /**
   * Where freshly initialised clusters are kept, one per PGlite version, to be copied into a new
   * data directory instead of running initdb there (seconds of work, every time). Made by the first
   * start that needs it; a directory that cannot be written just means initdb every time.
   */
  readonly templatesDir: string;
  /** Trouble with the template, which never keeps the database from opening. */
  readonly onError: (error: unknown, context: string) => void;
};

/** PGlite on `dataDir`, created there from the template when the directory is new. */
export async function openPGlite(dataDir: string, options: PGliteOptions): Promise<PGlite> {
  mkdirSync(dataDir, { recursive: true });
  if (readdirSync(dataDir).length === 0) {
    const template = await findOrMakeTemplate(options);
    if (template !== undefined) cpSync(template, dataDir, { recursive: true });
  }
  return start(dataDir);
}

function start(dataDir: string): Promise<PGlite> {
  return PGlite.create({ dataDir, startParams: [...PGlite.defaultStartParams, ...SETTINGS.flatMap((setting) => ['-c', setting])] });
}

/**
 * A cluster that PGlite made and shut down cleanly, so a copy of it is a cluster as initdb leaves it.
 * Several processes may make it at once: each in a directory of its own, and the first to rename its
 * own into place wins.
 */
async function findOrMakeTemplate({ templatesDir, onError }: PGliteOptions): Promise<string | undefined> {
  const template = join(templatesDir, `pglite-${PGLITE_VERSION}`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  let building: string | undefined;
  try {
    mkdirSync(templatesDir, { recursive: true });
    building = mkdtempSync(`${template}.building-`);
    await (await start(building)).close();
    renameSync(building, template);
    return template;
  } catch (error) {
    if (building !== undefined) rmSync(building, { recursive: true, force: true });
    if (existsSync(join(template, 'PG_VERSION'))) return template; // another process was first
    onError(error, `no PGlite template in ${templatesDir}; initialising the database in place`);
    return undefined;
  }
}
