import type { ProfileKind } from './profiles.ts';

export type Settings = Readonly<{
  /** Seconds each side is measured per scenario per round. */
  seconds: number;
  /** Seconds of load thrown away before each measurement, so the JIT and caches are warm. */
  warmupSeconds: number;
  /** Plaza and baseline alternate this many times; the report quotes medians over rounds. */
  rounds: number;
  connections: number;
  profiles: readonly ProfileKind[];
}>;

const PROFILE_KINDS: readonly ProfileKind[] = ['embedded', 'postgres'];

/** The defaults keep a full `npm run bench` (both profiles) around five minutes on a small machine. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    seconds: positiveNumber(env, 'BENCH_DURATION', 8),
    warmupSeconds: positiveNumber(env, 'BENCH_WARMUP', 2),
    rounds: positiveNumber(env, 'BENCH_ROUNDS', 3, true),
    connections: positiveNumber(env, 'BENCH_CONNECTIONS', 10, true),
    profiles: profileKinds(env.BENCH_PROFILES),
  };
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, integer = false): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0) || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'} (got "${raw}")`);
  }
  return value;
}

function profileKinds(raw: string | undefined): ProfileKind[] {
  if (raw === undefined || raw.trim() === '') return [...PROFILE_KINDS];
  const names = raw.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !PROFILE_KINDS.includes(name as ProfileKind));
  if (unknown.length > 0) {
    throw new Error(`BENCH_PROFILES takes ${PROFILE_KINDS.join(', ')} (got "${unknown.join(', ')}")`);
  }
  return names as ProfileKind[];
}
