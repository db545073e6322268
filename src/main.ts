import { parseArgs } from 'node:util';
import { buildApp, createDeps } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openDatabase } from './platform/db/open.ts';
import { migrateToLatest } from './platform/db/migrate.ts';

const USAGE = `Usage: plaza <command>

Commands:
  serve     start the HTTP server (applies pending migrations first)
  migrate   apply pending database migrations and exit

Configuration comes from environment variables; see README.md.`;

async function serve(config: Config): Promise<void> {
  const app = await buildApp(config, await createDeps(config));
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
    // A request that never ends must not keep the process alive forever.
    const deadline = setTimeout(() => {
      app.log.error(`shutdown took longer than ${config.shutdownTimeoutMs} ms; exiting`);
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    await app.close();
    clearTimeout(deadline);
    app.log.info('stopped');
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
}

async function migrate(config: Config): Promise<void> {
  const database = await openDatabase(config);
  try {
    const results = await migrateToLatest(database);
    for (const result of results) console.log(`${result.status.toLowerCase()}: ${result.migrationName}`);
    console.log(results.length === 0 ? 'The database is up to date.' : `Applied ${results.length} migration(s).`);
  } finally {
    await database.close();
  }
}

const commands: Record<string, (config: Config) => Promise<void>> = { serve, migrate };

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
  const command = commands[positionals[0] ?? ''];
  if (values.help || command === undefined) {
    console.log(USAGE);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  await command(loadConfig());
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
