import { fileURLToPath } from 'node:url';
import { requestJson } from './http.ts';
import type { Profile } from './profiles.ts';
import type { ServerSpec } from './servers.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** Plaza itself, as `npm start` runs it, on the profile's database. */
export function plazaServer(profile: Profile): ServerSpec {
  return {
    name: 'Plaza',
    script: MAIN,
    args: ['serve'],
    env: {
      ...profile.env,
      // Info level logs two lines per request; production deployments that care about speed use warn.
      LOG_LEVEL: 'warn',
      // Tokens made while seeding must outlive the whole run, however long BENCH_DURATION makes it.
      ACCESS_TOKEN_TTL: '86400',
      // Seeding signs many users up from one address: keep per-IP limits out of its way.
      LOGIN_RATE_LIMIT_PER_IP: '1000000',
      SIGNUP_RATE_LIMIT_PER_IP: '1000000',
      // For profiling Plaza under load, e.g. BENCH_PLAZA_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof".
      ...(process.env.BENCH_PLAZA_NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.BENCH_PLAZA_NODE_OPTIONS }),
    },
  };
}

export type SignedInUser = { id: string; handle: string; accessToken: string };

/** The email of the user `signUp` makes for `label`, for finding it in SQL. */
export function emailOf(label: string): string {
  return `${label}@bench.invalid`;
}

export async function signUp(plazaUrl: string, label: string): Promise<SignedInUser> {
  type Session = { user: { id: string; handle: string }; accessToken: string };
  const session = await requestJson<Session>('POST', `${plazaUrl}/v1/auth/signup`, {
    body: { email: emailOf(label), password: `${label}-password`, name: label },
  });
  return { id: session.user.id, handle: session.user.handle, accessToken: session.accessToken };
}
