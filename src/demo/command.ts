import { isIPv6 } from 'node:net';
import type { Config } from '../config.ts';
import { DEMO_PASSWORD, DemoRefused, seedDemo, type DemoResult } from './seed.ts';

/**
 * `plaza demo [--force]`: fills the database with a living demo and prints how to sign in. On a
 * database that has users it prints one line and exits with 1, unless `force` asks for a further set.
 */
export async function demo(config: Config, options: { force?: boolean | undefined }): Promise<void> {
  try {
    const result = await seedDemo(config, { force: options.force === true });
    console.log(summary(result, baseUrlOf(config), process.uptime()));
  } catch (error) {
    if (!(error instanceof DemoRefused)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  }
}

function summary({ set, users, counts }: DemoResult, baseUrl: string, seconds: number): string {
  const [first] = users;
  const width = (field: 'name' | 'handle') => Math.max(...users.map((user) => user[field].length)) + 2;
  const login = JSON.stringify({ email: first?.email, password: DEMO_PASSWORD });
  return [
    `Plaza demo${set > 1 ? ` (set ${set})` : ''} ready in ${seconds.toFixed(1)} s: ${users.length} users with profile images, ` +
      `${counts.follows} follows, ${counts.posts} posts (${counts.photos} photos, ${counts.audio} with audio, ` +
      `${counts.followersOnlyPosts} for followers only), ${counts.recordings} recording, ${counts.likes} likes.`,
    'No paid post: coins do not exist in Plaza yet.',
    '',
    `Every demo user's password is ${DEMO_PASSWORD}`,
    ...users.map((user) => `  ${user.name.padEnd(width('name'))}@${user.handle.padEnd(width('handle'))}${user.email}`),
    '',
    `With the server running (npm start), sign in as ${first?.name} and read the home timeline:`,
    `  TOKEN=$(curl -s ${baseUrl}/v1/auth/login -H 'content-type: application/json' -d '${login}' \\`,
    `    | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).accessToken')`,
    `  curl -s ${baseUrl}/v1/timelines/home -H "authorization: Bearer $TOKEN"`,
  ].join('\n');
}

/** Where the server this configuration describes answers: PUBLIC_URL, else its address (a wildcard one as loopback). */
function baseUrlOf(config: Config): string {
  if (config.publicUrl !== '') return config.publicUrl;
  const host = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host;
  return `http://${isIPv6(host) ? `[${host}]` : host}:${config.port}`;
}
