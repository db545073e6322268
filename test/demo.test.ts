import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { buildApp, createDeps } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { DEMO_PASSWORD } from '../src/demo/seed.ts';
import { FOLLOWS, PEOPLE, POSTS, RECORDING } from '../src/demo/script.ts';
import { lockDataDir } from '../src/platform/data-dir-lock.ts';
import { createTestDatabase, servicesDatabaseUrl } from './helpers/database.ts';
import { client, type Client } from './helpers/http.ts';
import { servicesForTestApp } from './helpers/services.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'plaza-demo-'));
/** The demo's environment: a fresh DATA_DIR, and in the services run a database, Redis prefix and bucket of its own. */
const env: Record<string, string> = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, LOG_LEVEL: 'info' };
const cleanUps: (() => Promise<void>)[] = [async () => rmSync(dataDir, { recursive: true, force: true })];

before(async () => {
  const services = await servicesForTestApp();
  cleanUps.push(services.release);
  Object.assign(env, services.env);
  if (servicesDatabaseUrl === undefined) return;
  const database = await createTestDatabase(servicesDatabaseUrl);
  cleanUps.push(database.drop);
  Object.assign(env, { DATABASE_URL: database.url, JWT_SECRET: randomBytes(32).toString('hex') });
});
after(async () => {
  for (const cleanUp of cleanUps.reverse()) await cleanUp();
});

/** Runs `plaza demo` as its own process, as a person would. */
async function runDemo(args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, 'demo', ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

/** The app on what the demo left behind, on a real port, for the length of `inspect`. */
async function withApp(inspect: (api: Client, url: string) => Promise<void>): Promise<void> {
  const config = loadConfig(env);
  const deps = await createDeps(config, { logStream: new Writable({ write: (_chunk, _encoding, done) => done() }) });
  const app = await buildApp(config, deps);
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    const url = `http://127.0.0.1:${address.port}`;
    await inspect(client(url), url);
  } finally {
    // Every request has been answered. A kept-alive connection that carried a streamed file can still
    // count as busy when close() looks for idle ones, and would then hold it for the keep-alive timeout.
    app.server.closeAllConnections();
    await app.close();
  }
}

type Person = { token: string; handle: string };

async function signIn(api: Client, email: string): Promise<Person> {
  const session = await api.post('/v1/auth/login', { email, password: DEMO_PASSWORD });
  assert.equal(session.status, 200, `${email}: ${session.text}`);
  return { token: session.body.accessToken, handle: session.body.user.handle };
}

async function signInEveryone(api: Client, set: number): Promise<Map<string, Person>> {
  const email = (key: string) => (set === 1 ? `${key}@demo.example` : `${key}+${set}@demo.example`);
  return new Map(await Promise.all(PEOPLE.map(async (person) => [person.key, await signIn(api, email(person.key))] as const)));
}

const count = <T>(items: T[], test: (item: T) => boolean) => items.filter(test).length;
const publicPosts = POSTS.filter((post) => post.visibility === undefined);
const followersOnly = POSTS.find((post) => post.visibility === 'followers') ?? assert.fail('the script has a followers-only post');

describe('plaza demo', () => {
  it('fills an empty database through the API, quickly, and says how to sign in', async (t) => {
    const run = await runDemo();
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const seconds = Number(/ready in ([\d.]+) s/.exec(run.stdout)?.[1]);
    t.diagnostic(`plaza demo took ${seconds} s (${servicesDatabaseUrl === undefined ? 'PGlite' : 'PostgreSQL, Redis, S3'})`);
    assert.ok(seconds < 60, run.stdout);
    assert.match(run.stdout, new RegExp(`password is ${DEMO_PASSWORD}`));
    for (const person of PEOPLE) assert.match(run.stdout, new RegExp(`${person.name} +@\\w+ +${person.key}@demo\\.example`));
    assert.match(run.stdout, /No paid post: coins do not exist/);
    assert.match(run.stdout, /TOKEN=\$\(curl -s http:\/\/127\.0\.0\.1:8080\/v1\/auth\/login .*"email":"maya@demo\.example","password":"plaza-demo-password"/);
    assert.match(run.stdout, /\.accessToken'\)\n {2}curl -s http:\/\/127\.0\.0\.1:8080\/v1\/timelines\/home -H "authorization: Bearer \$TOKEN"/);

    await withApp(async (api, url) => {
      const people = await signInEveryone(api, 1);
      const person = (key: string) => people.get(key) ?? assert.fail(key);

      for (const { key, bio } of PEOPLE) {
        const user = (await api.get(`/v1/users/${person(key).handle}`)).body;
        assert.equal(user.bio, bio);
        assert.deepEqual(user.counts, {
          followers: count(FOLLOWS, ([, followed]) => followed === key),
          following: count(FOLLOWS, ([follower]) => follower === key),
          posts: count(POSTS, (post) => post.by === key),
        });
        const picture = await fetch(`${url}${user.avatarUrl}`);
        assert.equal(picture.status, 200, `${key}'s profile image`);
        assert.match(picture.headers.get('content-type') ?? '', /^image\//);
        await picture.arrayBuffer();
      }
      const mayasFollowers = await api.get(`/v1/users/${person('maya').handle}/followers`);
      assert.deepEqual(
        new Set(mayasFollowers.body.items.map((user: { handle: string }) => user.handle)),
        new Set(FOLLOWS.filter(([, followed]) => followed === 'maya').map(([follower]) => person(follower).handle)),
      );

      // What anyone sees: every public post, newest first, its media processed and linked.
      const timeline = await api.get('/v1/timelines/public?limit=100');
      assert.deepEqual(timeline.body.items.map((post: { text: string }) => post.text), publicPosts.map((post) => post.text).reverse());
      for (const [index, post] of [...publicPosts].reverse().entries()) {
        const shown = timeline.body.items[index];
        assert.equal(shown.likeCount, post.likedBy.length, post.text);
        assert.equal(shown.media.length, (post.photos?.length ?? 0) + (post.tune ? 1 : 0), post.text);
        for (const item of shown.media) {
          assert.equal(item.status, 'ready', post.text);
          const bytes = await fetch(`${url}${item.url}`);
          assert.equal(bytes.status, 200, `${post.text}: ${item.kind}`);
          assert.match(bytes.headers.get('content-type') ?? '', item.kind === 'image' ? /^image\/jpeg/ : /^audio\//);
          await bytes.arrayBuffer();
        }
      }
      const audio = timeline.body.items.flatMap((post: { media: any[] }) => post.media).find((item: { kind: string }) => item.kind === 'audio');
      assert.ok(audio.durationMs > 5_000 && audio.waveform.length > 0, JSON.stringify(audio));

      const liked = POSTS.find((post) => post.likedBy.length >= 3) ?? assert.fail('a post liked by several');
      const likedPost = timeline.body.items.find((post: { text: string }) => post.text === liked.text);
      const likers = await api.get(`/v1/posts/${likedPost.id}/likes`);
      assert.deepEqual(new Set(likers.body.items.map((user: { handle: string }) => user.handle)), new Set(liked.likedBy.map((key) => person(key).handle)));
      const asLiker = await api.get(`/v1/posts/${likedPost.id}`, { token: person(liked.likedBy[0] ?? '').token });
      assert.equal(asLiker.body.likedByMe, true);

      // The followers-only post: its author's followers see it, in their home timeline too; nobody else does.
      const authored = await api.get(`/v1/users/${person(followersOnly.by).handle}/posts?limit=100`, { token: person(followersOnly.by).token });
      const hidden = authored.body.items.find((post: { text: string }) => post.text === followersOnly.text) ?? assert.fail('the followers-only post');
      assert.equal(hidden.visibility, 'followers');
      assert.equal(hidden.media[0]?.status, 'ready');
      for (const { key } of PEOPLE.filter((someone) => someone.key !== followersOnly.by)) {
        const follows = FOLLOWS.some(([follower, followed]) => follower === key && followed === followersOnly.by);
        const read = await api.get(`/v1/posts/${hidden.id}`, { token: person(key).token });
        assert.equal(read.status, follows ? 200 : 404, `${key} ${follows ? 'follows' : 'does not follow'} ${followersOnly.by}`);
        const home = await api.get('/v1/timelines/home?limit=100', { token: person(key).token });
        assert.equal(home.body.items.some((post: { id: string }) => post.id === hidden.id), follows, `${key}'s home timeline`);
      }
      assert.equal((await api.get(`/v1/posts/${hidden.id}`)).status, 404, 'signed out');
      const following = FOLLOWS.filter(([follower]) => follower === 'lucia').map(([, followed]) => followed);
      const home = await api.get('/v1/timelines/home?limit=100', { token: person('lucia').token });
      assert.equal(home.body.items.length, count(POSTS, (post) => post.by === 'lucia' || following.includes(post.by)), 'fan-out finished before the demo ended');

      // The recorder's own list.
      const recordings = await api.get('/v1/recordings', { token: person(RECORDING.by).token });
      assert.equal(recordings.body.items.length, 1);
      const [recording] = recordings.body.items;
      assert.equal(recording.fileName, RECORDING.fileName);
      assert.ok(Math.abs(recording.durationMs - 8_000) < 100 && recording.waveform.length > 0, JSON.stringify(recording));
      const sound = await api.get(`/v1/recordings/${recording.id}/content`, { token: person(RECORDING.by).token });
      assert.equal(sound.status, 200);
    });
  });

  it('refuses a database that has users, in one line, adding nothing', async () => {
    const run = await runDemo();
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^This database already has users; `plaza demo --force` .*\n$/);
  });

  it('with --force, adds another set of demo users beside the first, touching none of it', async () => {
    const run = await runDemo(['--force']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /Plaza demo \(set 2\) ready/, 'set 2: the refused run added nobody');
    assert.match(run.stdout, /maya\+2@demo\.example/);
    await withApp(async (api) => {
      const [first, second] = [await signInEveryone(api, 1), await signInEveryone(api, 2)];
      for (const { key } of PEOPLE) {
        assert.notEqual(first.get(key)?.handle, second.get(key)?.handle, `${key}: a handle of their own`);
        for (const set of [first, second]) {
          const user = (await api.get(`/v1/users/${set.get(key)?.handle}`)).body;
          assert.equal(user.counts.followers, count(FOLLOWS, ([, followed]) => followed === key), `${user.handle}: followed only within its set`);
        }
      }
      const timeline = await api.get('/v1/timelines/public?limit=100');
      assert.equal(timeline.body.items.length, 2 * publicPosts.length);
    });
  });

  it('holds the data directory like every command', { skip: servicesDatabaseUrl !== undefined && 'PostgreSQL takes no DATA_DIR lock' }, async () => {
    const lock = await lockDataDir(dataDir, { pid: process.pid, command: 'demo.test.ts', since: new Date().toISOString() });
    try {
      const run = await runDemo(['--force']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /is in use by another Plaza process \(pid \d+, "demo\.test\.ts"/);
      assert.equal(run.stdout, '');
    } finally {
      await lock.release();
    }
  });
});
