import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3';
import { PGlite } from '@electric-sql/pglite';
import { Redis } from 'ioredis';
import { follow, publish, signUp, type TestSession } from './helpers/factories.ts';
import { client, type Client } from './helpers/http.ts';
import { putRecording, uploadAndSettle } from './helpers/media.ts';
import { imageSample, wavSample } from './helpers/media-samples.ts';
import { killOnSuccess, serverStorage, startServer, type ServerProcess, type ServerStorage } from './helpers/server-process.ts';
import { eventually } from './helpers/wait.ts';

/**
 * Nothing acknowledged is lost: a real `plaza serve` is SIGKILLed in the same tick as a write's 2xx
 * arrives, a new process starts on the same data, and the write's effect must still arrive.
 *
 * Fan-out and backfill show through the API (a home timeline missing posts). The clean-ups after an
 * unfollow or a post deletion do not — a home timeline filters out posts of authors no longer
 * followed and posts that are gone — so those are checked where the feeds are stored: the
 * `home_feeds` table (PGlite) or each feed's sorted set (Redis). PGlite is one process's database, so
 * its table is read with the server down, from a copy (the restart must find the files as the kill
 * left them). Bytes are checked where they are stored: files under DATA_DIR/blobs, or the bucket.
 */

/** How long a restarted server may take to deliver what the killed one acknowledged. */
const DEADLINE_MS = 20_000;
/** Followers of the author whose post is fanned out: enough that the fan-out is still running when the answer leaves. */
const FOLLOWERS = 40;
const EARLIER_POSTS = 3;
const UPLOADS = 4;
/** Readers loading home timelines while the write is made, so the server is busy as it answers. */
const LOAD_READERS = 8;

let storage: ServerStorage;
let server: ServerProcess | undefined;
let api: Client;
let stored: StoreInspector;
/** Users whose home timelines are read while a write is made (see `underLoad`). */
let loadReaders: TestSession[] = [];

before(async () => {
  storage = await serverStorage();
  stored = storeInspector(storage.env);
  await restart();
});
after(async () => {
  await server?.kill();
  await stored?.close();
  await storage?.release();
});

function isGone(process: ServerProcess): boolean {
  return process.child.exitCode !== null || process.child.signalCode !== null;
}

/** A new server process on the same data (the previous one must be gone); resolves with its start-up time. */
async function restart(): Promise<number> {
  assert.ok(server === undefined || isGone(server), 'the previous server is gone');
  const started = Date.now();
  server = await startServer(storage.env);
  api = client(server.url);
  return Date.now() - started;
}

/**
 * Sends the write, SIGKILLs the server in the same tick as its 2xx arrives, and logs whether the
 * effect was already there in what the dead process left (`happened`): when it was not, this run
 * really raced the kill against the effect.
 */
async function writeAndKill(t: TestContext, what: string, write: (server: ServerProcess) => ReturnType<typeof killOnSuccess>, happened: (body: any) => Promise<boolean>): Promise<any> {
  if (server === undefined || isGone(server)) await restart(); // a failed test before may have left it down
  const running = server ?? assert.fail('no server');
  const answer = await underLoad(running, () => write(running));
  assert.ok(answer.status >= 200 && answer.status < 300, answer.text);
  await running.kill();
  t.diagnostic(`${what}: ${answer.status}, SIGKILLed; effect already there at the kill: ${(await happened(answer.body)) ? 'yes' : 'no'}`);
  return answer.body;
}

/**
 * Restarts, then checks `arrived` until it passes, and logs how long the new process took. Where the
 * check needs the server down (PGlite's table), each round stops it with SIGTERM — it finishes what
 * it started and leaves unclaimed work stored — and starts it again if the effect is not there yet.
 */
async function restartAndAwait(t: TestContext, what: string, arrived: () => Promise<boolean>, needsServerDown = false): Promise<void> {
  const startMs = await restart();
  const listening = Date.now();
  for (let round = 1; ; round++) {
    if (needsServerDown) {
      await settled(round * 2_000);
      await server?.stop();
    }
    if (await arrived().catch(() => false)) break;
    if (Date.now() - listening > DEADLINE_MS) assert.fail(`${what}: not there ${DEADLINE_MS} ms after the restart`);
    if (needsServerDown) await restart();
    else await sleep(50);
  }
  t.diagnostic(`${what}: arrived ${Date.now() - listening} ms after the restarted server listened (its start-up: ${startMs} ms)`);
  if (server !== undefined && isGone(server)) await restart();
}

/**
 * Waits, up to `timeoutMs`, until the server's /metrics shows nothing left to do: no outbox event
 * and no job waiting, delayed or running (a build without an outbox has no such line). Only a hint
 * for when to look: the check after it is what decides.
 */
async function settled(timeoutMs: number): Promise<void> {
  const pending = (metrics: string) =>
    [...metrics.matchAll(/^(outbox_backlog|jobs\{[^}]*state="(?:waiting|delayed|active)"[^}]*\}) (\d+)$/gm)].filter(([, , count]) => count !== '0');
  await eventually(async () => {
    const metrics = await api.get('/metrics');
    assert.equal(metrics.status, 200, metrics.text);
    assert.deepEqual(pending(metrics.text), []);
  }, timeoutMs).catch(() => {});
}

/**
 * Runs `work` while readers keep asking for home timelines, as on a busy server: the database has
 * queries in line when the write commits, so effects that follow it wait their turn while the answer
 * leaves. The readers stop with the server.
 */
async function underLoad<T>(running: ServerProcess, work: () => Promise<T>): Promise<T> {
  const loaders = loadReaders.slice(0, LOAD_READERS).map(async (reader) => {
    while (!isGone(running)) await fetch(`${running.url}/v1/timelines/home?limit=100`, { headers: { authorization: `Bearer ${reader.accessToken}` } }).then((answer) => answer.arrayBuffer(), () => undefined);
  });
  await sleep(20);
  try {
    return await work();
  } finally {
    await Promise.all(loaders);
  }
}
async function homeIds(reader: TestSession): Promise<string[]> {
  const page = await api.get('/v1/timelines/home?limit=100', { token: reader.accessToken });
  assert.equal(page.status, 200, page.text);
  return page.body.items.map((post: { id: string }) => post.id);
}

async function inEveryHome(readers: readonly TestSession[], postIds: readonly string[]): Promise<boolean> {
  const homes = await Promise.all(readers.map(homeIds));
  return homes.every((home) => postIds.every((id) => home.includes(id)));
}

describe('a write acknowledged just before SIGKILL takes effect after a restart', () => {
  let author: TestSession;
  let followers: TestSession[];
  let reader: TestSession;
  let followee: TestSession;
  let followeePosts: string[];
  let leaver: TestSession;
  let left: TestSession;
  let leftPosts: string[];
  let owner: TestSession;
  let posted: { id: string };
  let doomed: string;

  before(async () => {
    const users = await Promise.all(Array.from({ length: 6 + FOLLOWERS }, () => signUp(api)));
    [author, reader, followee, leaver, left, owner] = users.splice(0, 6) as [TestSession, TestSession, TestSession, TestSession, TestSession, TestSession];
    followers = users;
    loadReaders = followers;
    await Promise.all([...followers.map((follower) => follow(api, follower, author)), follow(api, leaver, left)]);
    followeePosts = [];
    leftPosts = [];
    for (let i = 0; i < EARLIER_POSTS; i++) {
      followeePosts.push((await publish(api, followee, `earlier ${i}`)).id);
      leftPosts.push((await publish(api, left, `to be unfollowed ${i}`)).id);
    }
    // A home read builds each reader's cached feed (Redis), which only then takes new entries.
    await Promise.all([...followers, reader].map(homeIds));
    doomed = (await publish(api, author, 'to be deleted')).id;
    await eventually(async () => assert.ok(await inEveryHome(followers, [doomed]), 'the post to delete is fanned out'), DEADLINE_MS);
    await eventually(async () => assert.ok(await inEveryHome([leaver], leftPosts), 'the backfill of the follow to undo'), DEADLINE_MS);
    // Several uploads, so removing them all takes a while.
    const image = await imageSample('png');
    await Promise.all(Array.from({ length: UPLOADS }, () => uploadAndSettle(api, owner.accessToken, image)));
    const avatar = await api.call('PUT', '/v1/account/avatar', { token: owner.accessToken, raw: await imageSample('png'), headers: { 'content-type': 'image/png' } });
    assert.equal(avatar.status, 200, avatar.text);
    const recording = await putRecording(api, owner.accessToken, 'last-words.wav', wavSample());
    assert.ok(recording.status < 300, recording.text);
  });

  it("a post reaches its author's followers' home timelines", async (t) => {
    posted = await writeAndKill(
      t,
      `POST /v1/posts by an author with ${FOLLOWERS} followers`,
      (running) => killOnSuccess(running, 'POST', '/v1/posts', { token: author.accessToken, body: { text: 'said just before the crash' } }),
      async (body) => (await stored.feedHolders(body.id, followers)).length === FOLLOWERS,
    );
    await restartAndAwait(t, `the post in ${FOLLOWERS} home timelines`, () => inEveryHome(followers, [posted.id]));
  });

  it("a follow brings the followee's earlier posts into the follower's home timeline", async (t) => {
    await writeAndKill(
      t,
      `PUT /v1/users/{handle}/follow of an author with ${EARLIER_POSTS} posts`,
      (running) => killOnSuccess(running, 'PUT', `/v1/users/${followee.user.handle}/follow`, { token: reader.accessToken }),
      async () => (await stored.feedPosts(reader)).filter((id) => followeePosts.includes(id)).length === EARLIER_POSTS,
    );
    await restartAndAwait(t, 'the backfill', () => inEveryHome([reader], followeePosts));
  });

  it("an unfollow takes the followee's posts out of the follower's home feed", async (t) => {
    const cleared = async () => !(await stored.feedPosts(leaver)).some((id) => leftPosts.includes(id));
    assert.equal(await cleared(), false, 'the posts are in the feed before');
    await writeAndKill(
      t,
      'DELETE /v1/users/{handle}/follow',
      (running) => killOnSuccess(running, 'DELETE', `/v1/users/${left.user.handle}/follow`, { token: leaver.accessToken }),
      cleared,
    );
    await restartAndAwait(t, 'the unfollow clean-up', cleared, stored.needsServerDown);
  });

  it("a deleted post leaves its followers' home feeds", async (t) => {
    const cleared = async () => (await stored.feedHolders(doomed, followers)).length === 0;
    assert.equal(await cleared(), false, 'the post is in the feeds before');
    await writeAndKill(
      t,
      `DELETE /v1/posts/{id} of a post in ${FOLLOWERS} feeds`,
      (running) => killOnSuccess(running, 'DELETE', `/v1/posts/${doomed}`, { token: author.accessToken }),
      cleared,
    );
    await restartAndAwait(t, `the post out of ${FOLLOWERS} feeds`, cleared, stored.needsServerDown);
  });

  it("a deleted account's stored bytes are removed", async (t) => {
    const before = await stored.bytesOf(owner);
    assert.ok(before.some((key) => key.startsWith('avatars/')), `a profile image is stored: ${before}`);
    assert.ok(before.filter((key) => key.startsWith('media/')).length >= UPLOADS + 1, `uploads and a recording are stored: ${before}`);
    const removed = async () => (await stored.bytesOf(owner)).length === 0;
    await writeAndKill(
      t,
      `DELETE /v1/account holding ${before.length} blobs`,
      (running) => killOnSuccess(running, 'DELETE', '/v1/account', { token: owner.accessToken, body: { password: owner.password } }),
      removed,
    );
    await restartAndAwait(t, "the account's bytes removed", removed);
  });
});

/** Looks at what the server stored, without going through it. */
type StoreInspector = {
  /** Which of these readers' stored home feeds hold the post. */
  feedHolders(postId: string, readers: readonly TestSession[]): Promise<TestSession[]>;
  /** The post ids in one reader's stored home feed. */
  feedPosts(reader: TestSession): Promise<string[]>;
  /** Keys of the bytes stored for one account (its uploads, recordings and profile images). */
  bytesOf(owner: TestSession): Promise<string[]>;
  /** The feeds are in PGlite, which only one process may open: read them with the server down. */
  readonly needsServerDown: boolean;
  close(): Promise<void>;
};

function storeInspector(env: Readonly<Record<string, string>>): StoreInspector {
  const feeds = env.REDIS_URL === undefined ? pgliteFeeds(join(env.DATA_DIR as string, 'db')) : redisFeeds(env.REDIS_URL, env.REDIS_PREFIX as string);
  const bytes = env.S3_BUCKET === undefined ? localBytes(join(env.DATA_DIR as string, 'blobs')) : s3Bytes(env);
  return {
    async feedHolders(postId, readers) {
      const entries = await feeds.read(readers.map((reader) => reader.user.id));
      return readers.filter((reader) => entries.get(reader.user.id)?.includes(postId));
    },
    async feedPosts(reader) {
      return (await feeds.read([reader.user.id])).get(reader.user.id) ?? [];
    },
    bytesOf: (owner) => bytes.list([`media/${owner.user.id}/`, `avatars/${owner.user.id}/`]),
    needsServerDown: feeds.needsServerDown,
    async close() {
      await feeds.close();
      bytes.close();
    },
  };
}

type FeedReader = { read(userIds: string[]): Promise<Map<string, string[]>>; readonly needsServerDown: boolean; close(): Promise<void> };

/** `home_feeds`, read from a copy of the database directory, which is left as it is. */
function pgliteFeeds(dbDir: string): FeedReader {
  return {
    needsServerDown: true,
    async read(userIds) {
      // A running server may remove a file while it is copied: copy again.
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await readCopy(userIds);
        } catch (error) {
          if (attempt === 5 || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    },
    async close() {},
  };

  async function readCopy(userIds: string[]): Promise<Map<string, string[]>> {
    const copy = mkdtempSync(join(tmpdir(), 'plaza-crash-copy-'));
    try {
      cpSync(dbDir, copy, { recursive: true });
      const db = await PGlite.create({ dataDir: copy });
      try {
        const rows = await db.query<{ user_id: string; post_id: string }>('select user_id, post_id from home_feeds where user_id = any($1)', [userIds]);
        return groupPostIds(rows.rows);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }
}

/** Each feed is a sorted set of `<postId>:<authorId>` members, beside one marker without a `:`. */
function redisFeeds(url: string, prefix: string): FeedReader {
  const redis = new Redis(url);
  return {
    needsServerDown: false,
    async read(userIds) {
      const feeds = await Promise.all(userIds.map((userId) => redis.zrange(`${prefix}:feed:${userId}`, '0', '-1')));
      const rows = userIds.flatMap((userId, i) =>
        (feeds[i] ?? []).filter((member) => member.includes(':')).map((member) => ({ user_id: userId, post_id: member.slice(0, member.indexOf(':')) })),
      );
      return groupPostIds(rows);
    },
    async close() {
      redis.disconnect();
    },
  };
}

function groupPostIds(rows: readonly { user_id: string; post_id: string }[]): Map<string, string[]> {
  const feeds = new Map<string, string[]>();
  for (const row of rows) feeds.set(row.user_id, [...(feeds.get(row.user_id) ?? []), row.post_id]);
  return feeds;
}

type BytesLister = { list(prefixes: string[]): Promise<string[]>; close(): void };

function localBytes(blobsDir: string): BytesLister {
  return {
    async list(prefixes) {
      const files = await readdir(blobsDir, { recursive: true, withFileTypes: true });
      return files
        .filter((entry) => entry.isFile())
        .map((entry) => join(entry.parentPath, entry.name).slice(blobsDir.length + 1))
        .filter((key) => prefixes.some((prefix) => key.startsWith(prefix)));
    },
    close() {},
  };
}

function s3Bytes(env: Readonly<Record<string, string>>): BytesLister {
  const s3 = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION ?? 'us-east-1',
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID as string, secretAccessKey: env.S3_SECRET_ACCESS_KEY as string },
    forcePathStyle: true,
  });
  return {
    async list(prefixes) {
      const keys: string[] = [];
      for (const prefix of prefixes) {
        for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: env.S3_BUCKET, Prefix: prefix })) {
          keys.push(...(page.Contents ?? []).flatMap((object) => object.Key ?? []));
        }
      }
      return keys;
    },
    close: () => s3.destroy(),
  };
}
