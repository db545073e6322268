import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fleetSkipReason, startFleet, type Fleet } from './helpers/fleet.ts';
import { client, type Client } from './helpers/http.ts';
import { imageSample } from './helpers/media-samples.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';
import { eventually } from './helpers/wait.ts';

/**
 * Two web instances (WORKERS=0) and a `plaza worker` behind nginx, under a mixed load of signups,
 * posts, likes, follows and uploads; one instance is SIGKILLed in the middle and started again.
 * Clients retry what failed (as apps do), so they reach the survivor; afterwards every write that
 * got a 2xx is read back, the restarted instance takes requests again, and the worker has caught up
 * on everything (the follows' notifications, the photos processed, an empty outbox).
 */

const CLIENTS = 6;
const LOAD_MS = 7_000;
const KILL_AT_MS = 2_000;
const RESTART_AT_MS = 3_500;
/** Tries per request: a client retries a network error or a 502/503/504 this often, 100 ms apart. */
const TRIES = 20;

type Session = { accessToken: string; user: { id: string; handle: string } };
type Acknowledged = {
  users: Session[];
  posts: { id: string; author: Session }[];
  likes: { postId: string; userId: string }[];
  follows: { follower: Session; followee: Session }[];
  media: { id: string; owner: Session }[];
};

const skip = fleetSkipReason();

describe('an instance killed under load', { skip }, () => {
  let fleet: Fleet;
  let worker: ServerProcess | undefined;
  let restarted: ServerProcess | undefined;
  let viaNginx: Client;
  /** Requests that never got through, and answers no write should get. */
  let gaveUp = 0;
  const unexpected: string[] = [];
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'plaza-crash-'));
    dirs.push(dir);
    return dir;
  };

  before(async () => {
    fleet = await startFleet(2, { WORKERS: '0', SIGNUP_RATE_LIMIT_PER_IP: '100000' });
    worker = await startServer({ ...fleet.env, DATA_DIR: tempDir() }, 'worker');
    viaNginx = client(fleet.url);
  });
  after(async () => {
    await Promise.all([worker?.stop(), restarted?.stop()]);
    await fleet?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** One request through nginx, retried as an app would while an instance is down; undefined if it never got through. */
  async function send(method: string, path: string, options: { token?: string; body?: unknown; raw?: Buffer; type?: string } = {}) {
    for (let attempt = 1; attempt <= TRIES; attempt++) {
      try {
        const answer = await viaNginx.call(method, path, {
          token: options.token,
          ...(options.body !== undefined && { body: options.body }),
          ...(options.raw !== undefined && { raw: options.raw, headers: { 'content-type': options.type ?? 'application/octet-stream' } }),
        });
        if (![502, 503, 504].includes(answer.status)) {
          // A retried signup that had committed, its answer lost with the instance, is a 409.
          const expected = answer.status < 300 || (answer.status === 409 && attempt > 1 && path === '/v1/auth/signup');
          if (!expected) unexpected.push(`${method} ${path}: ${answer.status} ${answer.text}`);
          return { ...answer, attempt };
        }
      } catch {
        // the connection was cut: try again
      }
      await sleep(100);
    }
    gaveUp += 1;
    return undefined;
  }

  async function signUpRetrying(acked: Acknowledged): Promise<void> {
    const email = `crash-${randomBytes(5).toString('hex')}@example.test`;
    const password = 'a long enough password';
    const answer = await send('POST', '/v1/auth/signup', { body: { email, password, name: 'Crash test' } });
    if (answer?.status === 201) return void acked.users.push(answer.body);
    // A retry of a signup that had committed, its answer lost with the instance.
    if (answer?.status === 409 && answer.attempt > 1) {
      const login = await send('POST', '/v1/auth/login', { body: { email, password } });
      if (login?.status === 200) acked.users.push(login.body);
    }
  }

  async function oneWrite(acked: Acknowledged, photo: Buffer): Promise<void> {
    const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)];
    const me = pick(acked.users);
    const roll = Math.random();
    if (me === undefined || roll < 0.15) return signUpRetrying(acked);
    if (roll < 0.45) {
      const answer = await send('POST', '/v1/posts', { token: me.accessToken, body: { text: `under load ${randomBytes(3).toString('hex')}` } });
      if (answer?.status === 201) acked.posts.push({ id: answer.body.id, author: me });
    } else if (roll < 0.65) {
      const post = pick(acked.posts);
      if (post === undefined) return;
      const answer = await send('PUT', `/v1/posts/${post.id}/like`, { token: me.accessToken });
      if (answer?.status === 204) acked.likes.push({ postId: post.id, userId: me.user.id });
    } else if (roll < 0.9) {
      const other = pick(acked.users);
      if (other === undefined || other.user.id === me.user.id) return;
      const answer = await send('PUT', `/v1/users/${other.user.handle}/follow`, { token: me.accessToken });
      if (answer?.status === 204) acked.follows.push({ follower: me, followee: other });
    } else {
      const answer = await send('POST', '/v1/media', { token: me.accessToken, raw: photo, type: 'image/png' });
      if (answer?.status === 201 || answer?.status === 202) acked.media.push({ id: answer.body.id, owner: me });
    }
  }

  it('loses no acknowledged write; clients reach the survivor; the instance rejoins; the worker catches up', async () => {
    const photo = await imageSample('png');
    const acked: Acknowledged = { users: [], posts: [], likes: [], follows: [], media: [] };
    for (let n = 0; n < 4; n++) await signUpRetrying(acked);

    const [victim] = fleet.instances;
    assert.ok(victim !== undefined);
    const victimPort = new URL(victim.url).port;
    const started = Date.now();
    const chaos = (async () => {
      await sleep(KILL_AT_MS);
      await victim.kill();
      await sleep(RESTART_AT_MS - KILL_AT_MS);
      // On its port again: nginx's upstream names it.
      restarted = await startServer({ ...fleet.env, DATA_DIR: tempDir(), TRUST_PROXY: 'loopback', WORKERS: '0', SIGNUP_RATE_LIMIT_PER_IP: '100000', PORT: victimPort });
    })();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() - started < LOAD_MS) await oneWrite(acked, photo);
      }),
    );
    await chaos;
    const counts = Object.fromEntries(Object.entries(acked).map(([name, list]) => [name, list.length]));
    console.log(`# acknowledged during the load: ${JSON.stringify(counts)}`);
    assert.ok(acked.posts.length >= 10 && acked.follows.length >= 5, `a load went through: ${JSON.stringify(counts)}`);
    assert.equal(gaveUp, 0, 'every request got through, to the survivor while the other was down');
    assert.deepEqual(unexpected, []);

    // The worker catches up on the outbox and the jobs.
    const workerApi = client((worker ?? assert.fail('the worker runs')).url);
    await eventually(async () => {
      const metrics = (await workerApi.get('/metrics')).text;
      assert.match(metrics, /^outbox_backlog 0$/m);
    }, 30_000);

    // Every acknowledged write is there.
    const direct = client(fleet.instances[1]!.url);
    for (const session of acked.users) assert.equal((await direct.get('/v1/account', { token: session.accessToken })).status, 200);
    for (const { id, author } of acked.posts) assert.equal((await direct.get(`/v1/posts/${id}`, { token: author.accessToken })).status, 200, id);
    const likersOf = new Map<string, Set<string>>();
    for (const { postId } of acked.likes) {
      if (likersOf.has(postId)) continue;
      const page = await direct.get(`/v1/posts/${postId}/likes?limit=100`);
      likersOf.set(postId, new Set(page.body.items.map((user: { id: string }) => user.id)));
    }
    for (const { postId, userId } of acked.likes) assert.ok(likersOf.get(postId)?.has(userId), `${userId} likes ${postId}`);
    for (const { follower, followee } of acked.follows) {
      const following = await direct.get(`/v1/users/${follower.user.handle}/following?limit=100`);
      assert.ok(following.body.items.some((user: { id: string }) => user.id === followee.user.id), `${follower.user.handle} follows ${followee.user.handle}`);
    }
    // Made by the worker from the follows' outbox events.
    await eventually(async () => {
      for (const { follower, followee } of acked.follows) {
        const notifications = await direct.get('/v1/notifications?limit=100', { token: followee.accessToken });
        assert.ok(
          notifications.body.items.some((item: { type: string; actor: { id: string } }) => item.type === 'follow' && item.actor.id === follower.user.id),
          `${followee.user.handle} is told ${follower.user.handle} follows them`,
        );
      }
    }, 30_000);
    await eventually(async () => {
      for (const { id, owner } of acked.media) assert.equal((await direct.get(`/v1/media/${id}`, { token: owner.accessToken })).body.status, 'ready', id);
    }, 60_000);

    // The restarted instance takes requests through nginx again (once nginx tries it after fail_timeout).
    const rejoined = restarted ?? assert.fail('the instance was restarted');
    await eventually(async () => {
      const id = `crash-rejoin-${randomBytes(4).toString('hex')}`;
      await viaNginx.get('/v1/timelines/public?limit=1', { headers: { 'x-request-id': id } });
      assert.ok(rejoined.output().includes(`"reqId":"${id}"`), 'nginx sends the restarted instance requests');
    }, 20_000);
  });
});
