import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { buildApp, createDeps } from '../app.ts';
import type { Config } from '../config.ts';
import { createAccountsService } from '../modules/accounts/service.ts';
import { createPasswordHasher } from '../modules/accounts/passwords.ts';
import { avatar, photo, tune, waves, type Scene } from './generated-media.ts';
import { FOLLOWS, PEOPLE, POSTS, RECORDING } from './script.ts';

/** Every demo user signs in with this password. */
export const DEMO_PASSWORD = 'plaza-demo-password';
const EMAIL_DOMAIN = 'demo.example';
/** How long media processing and the jobs after it may take before the demo gives up. */
const SETTLE_TIMEOUT_MS = 120_000;

export type DemoUser = { name: string; handle: string; email: string };

export type DemoResult = {
  /** 1 for the first set of demo users, 2 for the one `--force` adds beside it, … */
  set: number;
  users: DemoUser[];
  counts: { follows: number; posts: number; followersOnlyPosts: number; photos: number; audio: number; recordings: number; likes: number };
};

/** The database already has users and the demo was not told to add to them. */
export class DemoRefused extends Error {}

/**
 * Fills the database with demo users, follows, posts, media, a recording and likes — all through
 * Plaza's own HTTP API (`inject`), so the same validation, rules and processing jobs apply as for
 * anyone — then waits for processing and background jobs to finish and closes the app.
 */
export async function seedDemo(config: Config, options: { force: boolean }): Promise<DemoResult> {
  // Request lines would bury the summary: only warnings and errors, on standard error.
  const quiet: Config = { ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel };
  const deps = await createDeps(quiet, { logStream: process.stderr });
  const app = await buildApp(quiet, deps);
  try {
    const accounts = createAccountsService({
      db: deps.database.db,
      publicUrl: config.publicUrl,
      passwords: createPasswordHasher(config.passwordHashing),
    });
    if (!options.force && (await accounts.hasUsers())) {
      throw new DemoRefused('This database already has users; `plaza demo --force` (`npm run demo -- --force`) adds a set of demo users beside them.');
    }
    return await perform(apiOf(app));
  } finally {
    await app.close();
  }
}

async function perform(api: Api): Promise<DemoResult> {
  const scenes = [...new Set(POSTS.flatMap((post) => post.photos ?? []))];
  const media = Promise.all([
    Promise.all(scenes.map(async (scene, index) => [scene, await photo(scene, index + 1)] as const)).then((photos) => new Map<Scene, Buffer>(photos)),
    Promise.all(PEOPLE.map((_, index) => avatar(index))),
  ]);
  const [{ set, tokens, users }, [photos, avatars]] = await Promise.all([signUpEveryone(api), media]);
  const token = (key: string) => tokens.get(key) ?? fail(`no demo person "${key}"`);
  const handle = (key: string) => users.get(key)?.handle ?? fail(`no demo person "${key}"`);

  await Promise.all(PEOPLE.map(async (person, index) => {
    await api.expect(200, 'PATCH', '/v1/account', { token: token(person.key), json: { bio: person.bio } });
    await api.expect(200, 'PUT', '/v1/account/avatar', { token: token(person.key), bytes: avatars[index] ?? fail('no avatar'), contentType: 'image/png' });
  }));
  await Promise.all(FOLLOWS.map(([follower, followed]) =>
    api.expect(204, 'PUT', `/v1/users/${handle(followed)}/follow`, { token: token(follower) })));

  const mediaIds: { id: string; token: string }[] = [];
  const upload = async (by: string, bytes: Buffer, contentType: string, fileName: string) => {
    const item = await api.expect([201, 202], 'POST', `/v1/media?fileName=${encodeURIComponent(fileName)}`, { token: token(by), bytes, contentType });
    mediaIds.push({ id: item.id, token: token(by) });
    return item.id as string;
  };
  let likes = 0;
  // One after the other, so the timelines show them in the script's order.
  for (const post of POSTS) {
    const ids = await Promise.all([
      ...(post.photos ?? []).map((scene) => upload(post.by, photos.get(scene) ?? fail(`no photo "${scene}"`), 'image/jpeg', `${scene}.jpg`)),
      ...(post.tune ? [upload(post.by, tune(), 'audio/wav', 'morning tune.wav')] : []),
    ]);
    const created = await api.expect(201, 'POST', '/v1/posts', {
      token: token(post.by),
      json: { text: post.text, mediaIds: ids, ...(post.visibility !== undefined && { visibility: post.visibility }) },
    });
    await Promise.all(post.likedBy.map((liker) => api.expect(204, 'PUT', `/v1/posts/${created.id}/like`, { token: token(liker) })));
    likes += post.likedBy.length;
  }
  await api.expect(201, 'PUT', `/v1/recordings/${encodeURIComponent(RECORDING.fileName)}`, { token: token(RECORDING.by), bytes: waves(7), contentType: 'audio/wav' });

  await settle(api, mediaIds);
  return {
    set,
    users: PEOPLE.map((person) => users.get(person.key) ?? fail(`no demo person "${person.key}"`)),
    counts: {
      follows: FOLLOWS.length,
      posts: POSTS.length,
      followersOnlyPosts: POSTS.filter((post) => post.visibility === 'followers').length,
      photos: POSTS.reduce((sum, post) => sum + (post.photos?.length ?? 0), 0),
      audio: POSTS.filter((post) => post.tune).length,
      recordings: 1,
      likes,
    },
  };
}

/**
 * Signs everyone up, in the first set whose email addresses are free: `maya@demo.example`, then
 * `maya+2@demo.example`, … Handles are left to Plaza, which makes them from the names and never
 * hands out a taken one.
 */
async function signUpEveryone(api: Api) {
  const [first, ...others] = PEOPLE;
  if (first === undefined) return fail('no demo people');
  for (let set = 1; set <= 100; set++) {
    const signUp = (person: typeof first) =>
      api.call('POST', '/v1/auth/signup', { json: { email: emailOf(person.key, set), password: DEMO_PASSWORD, name: person.name } });
    const answer = await signUp(first);
    if (answer.status === 409 && answer.body.code === 'email_taken') continue;
    const sessions = [answer, ...(await Promise.all(others.map(signUp)))];
    const tokens = new Map<string, string>();
    const users = new Map<string, DemoUser>();
    sessions.forEach((session, index) => {
      const person = PEOPLE[index] ?? fail('no demo person');
      checkStatus(session, [201], `signing up ${emailOf(person.key, set)}`);
      tokens.set(person.key, session.body.accessToken);
      users.set(person.key, { name: person.name, handle: session.body.user.handle, email: session.body.user.email });
    });
    return { set, tokens, users };
  }
  return fail(`the demo's email addresses (@${EMAIL_DOMAIN}) are taken up to set 100`);
}

function emailOf(key: string, set: number): string {
  return set === 1 ? `${key}@${EMAIL_DOMAIN}` : `${key}+${set}@${EMAIL_DOMAIN}`;
}

/** Waits until every uploaded item is processed, then until no background job (fan-out, clean copies) is left. */
async function settle(api: Api, items: { id: string; token: string }[]): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (const item of items) {
    for (;;) {
      const media = await api.expect(200, 'GET', `/v1/media/${item.id}`, { token: item.token });
      if (media.status === 'failed') fail(`media item ${item.id} (${media.fileName}) failed to process`);
      if (media.status === 'ready') break;
      await waitUntil(deadline, `media item ${item.id} is still processing`);
    }
  }
  while (await jobsPending(api)) await waitUntil(deadline, 'background jobs are still running');
}

async function jobsPending(api: Api): Promise<boolean> {
  const metrics = await api.call('GET', '/metrics', {});
  checkStatus(metrics, [200], 'reading /metrics for the job queue');
  return [...metrics.text.matchAll(/^jobs\{[^}]*state="(waiting|active|delayed)"[^}]*\} (\d+)$/gm)].some((line) => line[2] !== '0');
}

async function waitUntil(deadline: number, what: string): Promise<void> {
  if (Date.now() > deadline) fail(`gave up after ${SETTLE_TIMEOUT_MS / 1000} s: ${what}`);
  await sleep(100);
}

type Answer = { status: number; body: any; text: string };
type Call = { token?: string; json?: unknown; bytes?: Buffer; contentType?: string };
type Api = {
  call(method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, call: Call): Promise<Answer>;
  /** The answer's JSON body; anything but `status` stops the demo, naming what failed and why. */
  expect(status: number | number[], method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, call: Call): Promise<any>;
};

function apiOf(app: FastifyInstance): Api {
  const call: Api['call'] = async (method, url, { token, json, bytes, contentType }) => {
    const answer = await app.inject({
      method,
      url,
      headers: {
        ...(token !== undefined && { authorization: `Bearer ${token}` }),
        ...(contentType !== undefined && { 'content-type': contentType }),
      },
      ...(json !== undefined && { payload: json as object }),
      ...(bytes !== undefined && { payload: bytes }),
    });
    const isJson = /json/.test(String(answer.headers['content-type'] ?? ''));
    return { status: answer.statusCode, body: isJson ? answer.json() : undefined, text: answer.body };
  };
  return {
    call,
    async expect(status, method, url, request) {
      const answer = await call(method, url, request);
      checkStatus(answer, Array.isArray(status) ? status : [status], `${method} ${url.split('?')[0]}`);
      return answer.body;
    },
  };
}

function checkStatus(answer: Answer, expected: number[], what: string): void {
  if (expected.includes(answer.status)) return;
  fail(`${what} answered ${answer.status}: ${answer.body?.detail ?? answer.text.slice(0, 200)}`);
}

function fail(message: string): never {
  throw new Error(`demo: ${message}`);
}
