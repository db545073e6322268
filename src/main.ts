import { enableCompileCache } from 'node:module';
import { parseArgs } from 'node:util';
import { CliError } from './cli/errors.ts';
import { execWithProcessSettings } from './cli/process-settings.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { DataDirInUseError, lockDataDir } from './platform/data-dir-lock.ts';

const USAGE = `Usage: plaza <command>

Commands:
  serve     start the HTTP server (applies pending migrations first)
  worker    run the jobs and the outbox relay beside web instances started with WORKERS=0
            (PostgreSQL and Redis only)
  migrate   apply pending database migrations and exit
  demo      fill an empty database with demo users, posts and media, and print how to sign in
            (--force: add another set of demo users to a database that has users)
  admin     operators' commands on the coin ledger:
              admin grant-coins --handle H --coins N [--reason R]
              admin ledger check

Configuration comes from environment variables; see README.md.`;

/**
 * Every command works on the database, so each holds the embedded one's DATA_DIR while it runs.
 * A command's code is loaded only when it runs: a refusal or the usage comes at once. A command
 * checks its arguments first and answers what runs once DATA_DIR is held: bad arguments touch
 * nothing.
 */
type Flags = ReturnType<typeof parseCommandLine>['values'];
type Run = (config: Config) => Promise<void>;
const commands: Record<string, (flags: Flags, positionals: string[]) => Promise<Run>> = {
  serve: async () => async (config) => (await import('./cli/serve.ts')).serve(config),
  worker: async () => async (config) => (await import('./cli/serve.ts')).work(config),
  migrate: async () => async (config) => (await import('./cli/migrate.ts')).migrate(config),
  demo: async (flags) => async (config) => (await import('./demo/command.ts')).demo(config, flags),
  admin: async (flags, positionals) => (await import('./modules/wallet/command.ts')).admin(positionals, flags),
};
const ADMIN_FLAGS = ['handle', 'coins', 'reason'] as const;

// Node keeps the modules it has compiled (and stripped of their types) in its cache directory
// (NODE_COMPILE_CACHE, or one under the OS's temporary directory): a restart reads them instead.
enableCompileCache();

async function main(): Promise<void> {
  const { positionals, values } = parseCommandLine();
  const name = positionals[0] ?? '';
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (values.help || command === undefined) {
    if (values.help) return console.log(USAGE);
    if (name !== '') console.error(`Unknown command "${name}".`);
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }
  const misplaced =
    values.force && name !== 'demo' ? '--force belongs to demo'
    : ADMIN_FLAGS.some((flag) => values[flag] !== undefined) && name !== 'admin' ? '--handle, --coins and --reason belong to admin grant-coins'
    : undefined;
  if (misplaced !== undefined) {
    console.error(`${misplaced}; "${name}" takes no options.\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (name === 'serve' || name === 'worker') execWithProcessSettings();
  const run = await command(values, positionals);
  const config = loadConfig();
  await holdDataDir(config, name).catch(async (error: unknown) => {
    if (name !== 'admin' || !(error instanceof DataDirInUseError)) throw error;
    throw new CliError((await import('./modules/wallet/command.ts')).refusalWhileServed(positionals));
  });
  await run(config);
}

function parseCommandLine() {
  try {
    return parseArgs({ allowPositionals: true, options: {
        help: { type: 'boolean', short: 'h' },
        force: { type: 'boolean' },
        handle: { type: 'string' },
        coins: { type: 'string' },
        reason: { type: 'string' },
      },
    });
  } catch (error) {
    if (!(error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) throw error;
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

/**
 * PGlite is one process's database: a second process on its files loses writes. On PostgreSQL
 * several instances are the point, and Kysely's migration lock keeps concurrent migrations apart.
 */
async function holdDataDir(config: Config, command: string): Promise<void> {
  if (config.databaseUrl !== undefined) return;
  await lockDataDir(config.dataDir, { pid: process.pid, command: `plaza ${command}`, since: new Date().toISOString() });
}

main().catch((error: unknown) => {
  const forPeople = error instanceof ConfigError || error instanceof CliError || error instanceof DataDirInUseError;
  console.error(forPeople ? error.message : error);
  process.exit(1);
});
