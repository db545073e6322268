/**
 * `npm run test:services [-- <test files or node --test options>]`
 *
 * Runs the test suite against real backing services instead of the embedded defaults. Each service
 * comes from its environment variable when set (e.g. DATABASE_URL), otherwise a private, throwaway
 * instance is started for the run and always torn down afterwards. Exits with the test run's code.
 */
import { log, run, signalExitCode, type Service } from './services/common.ts';
import { startPostgres } from './services/postgres.ts';
import { startRedis } from './services/redis.ts';
import { startS3 } from './services/s3.ts';

type ServiceSpec = {
  readonly name: string;
  /** The variable that points at this service; when already set, that service is used as is. */
  readonly envVar: string;
  start(signal: AbortSignal): Promise<Service>;
};

const SERVICES: readonly ServiceSpec[] = [
  { name: 'PostgreSQL', envVar: 'DATABASE_URL', start: startPostgres },
  { name: 'Redis', envVar: 'REDIS_URL', start: startRedis },
  { name: 'S3 (s3rver)', envVar: 'S3_ENDPOINT', start: startS3 },
];

const DEFAULT_TESTS = 'test/**/*.test.ts'; // expanded by node's test runner, not a shell

// Ctrl-C / SIGTERM abort whatever is in flight (child processes included); cleanup still runs.
const abort = new AbortController();
let receivedSignal: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    receivedSignal ??= signal;
    abort.abort();
  });
}

process.exit(await main(process.argv.slice(2)));

async function main(args: string[]): Promise<number> {
  const env = { ...process.env };
  const started: Service[] = [];
  try {
    for (const spec of SERVICES) {
      if (env[spec.envVar]) {
        log(`${spec.name}: using ${spec.envVar} from the environment`);
        continue;
      }
      const service = await spec.start(abort.signal);
      started.push(service);
      Object.assign(env, service.env);
      log(`${spec.name}: started at ${service.url}`);
    }
    const code = await runTests(args, env);
    return receivedSignal ? signalExitCode(receivedSignal) : code;
  } catch (error) {
    if (receivedSignal) return signalExitCode(receivedSignal);
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    for (const service of started.reverse()) await service.stop();
  }
}

/** Positional args (test files) replace the default glob; options are passed through either way. */
async function runTests(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const targets = args.some((arg) => !arg.startsWith('-')) ? args : [...args, DEFAULT_TESTS];
  const nodeArgs = ['--test', '--test-concurrency=2', ...targets];
  const result = await run(process.execPath, nodeArgs, { env, signal: abort.signal, inherit: true });
  return result.code;
}
