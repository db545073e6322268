import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { buildApp, createDeps } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { MAX_STREAMS_PER_USER } from '../src/modules/stream/service.ts';
import { appPerFile, startApp } from './helpers/app.ts';
import { servicesDatabaseUrl } from './helpers/database.ts';
import { assertProblem, follow, publish, signUp, type TestSession } from './helpers/factories.ts';
import { client } from './helpers/http.ts';
import { openStream, type SseEvent, type SseStream } from './helpers/sse.ts';
import { eventually } from './helpers/wait.ts';

/**
 * GET /v1/stream over real HTTP, read with a frame parser of its own (test/helpers/sse.ts). The
 * app keeps a short backlog (10 events), a small per-stream buffer and a one-second heartbeat so
 * that trimming, dropping and heartbeats show quickly.
 */
const shared = appPerFile({ STREAM_BACKLOG_LENGTH: '10', STREAM_BUFFER_BYTES: '16384', STREAM_HEARTBEAT_SECONDS: '1', MAX_CONNECTIONS: '5000' });
const { api } = shared;
const profile = servicesDatabaseUrl === undefined ? 'pglite' : 'postgres+redis';

const streams: SseStream[] = [];
after(() => {
  for (const stream of streams) stream.close();
});
async function stream(session: TestSession | undefined, options: Parameters<typeof openStream>[1] = {}, url = shared.testApp.url): Promise<SseStream> {
  const opened = await openStream(url, { ...(session !== undefined && { token: session.accessToken }), ...options });
  streams.push(opened);
  return opened;
}
const isPost = (postId: string) => (event: SseEvent) => event.event === 'post' && JSON.parse(event.data).id === postId;
const postIds = (events: readonly SseEvent[]) => events.filter((event) => event.event === 'post').map((event) => JSON.parse(event.data).id as string);

async function metric(name: string): Promise<number> {
  const text = (await api.get('/metrics')).text;
  const lines = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, 'gm'))];
  return lines.reduce((sum, match) => sum + Number(match[1]), 0);
}

describe(`live events (${profile})`, () => {
  it('answers an event stream that nginx does not buffer, with heartbeats', async () => {
    const reader = await signUp(api);
    const live = await stream(reader);
    assert.equal(live.status, 200);
    assert.match(String(live.headers['content-type']), /^text\/event-stream/);
    assert.equal(live.headers['cache-control'], 'no-cache');
    assert.equal(live.headers['x-accel-buffering'], 'no');
    await eventually(async () => assert.ok(live.comments.includes('heartbeat'), 'a heartbeat within the interval'), 3000);
    assert.ok((await metric('stream_open_connections')) >= 1);
  });

  it('sends a post to its followers and its author within a second of the 201', async () => {
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, reader, author);
    const [readerStream, authorStream] = await Promise.all([stream(reader), stream(author)]);
    const post = await publish(api, author, 'live');
    const published = Date.now();
    const [seen] = await Promise.all([readerStream.next(isPost(post.id), 1000), authorStream.next(isPost(post.id), 1000)]);
    assert.ok(Date.now() - published < 1000);
    assert.deepEqual(JSON.parse(seen.data), { id: post.id, authorId: author.user.id });
    assert.match(seen.id ?? '', /^\d+-\d+$/);
  });

  it('sends notifications: a follow and a like, as the recipient lists them', async () => {
    const [star, fan] = await Promise.all([signUp(api), signUp(api)]);
    const live = await stream(star);
    await follow(api, fan, star);
    const followed = await live.next((event) => event.event === 'notification' && JSON.parse(event.data).type === 'follow');
    const post = await publish(api, star, 'like me');
    assert.equal((await api.call('PUT', `/v1/posts/${post.id}/like`, { token: fan.accessToken })).status, 204);
    const liked = await live.next((event) => event.event === 'notification' && JSON.parse(event.data).type === 'like');
    const listed = (await api.get('/v1/notifications', { token: star.accessToken })).body.items;
    assert.deepEqual(
      [JSON.parse(liked.data), JSON.parse(followed.data)].map((n) => n.id),
      listed.map((n: { id: string }) => n.id),
    );
    assert.equal(JSON.parse(liked.data).post.id, post.id);
    assert.equal(JSON.parse(followed.data).actor.handle, fan.user.handle);
  });

  it('replays what a dropped connection missed, with nothing lost or doubled across the switch', async () => {
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, reader, author);
    const first = await stream(reader);
    // Posts keep coming while the reader drops and comes back.
    const posting = (async () => {
      const ids: string[] = [];
      for (let i = 0; i < 8; i += 1) ids.push((await publish(api, author, `post ${i}`)).id);
      return ids;
    })();
    await first.next((event) => event.event === 'post');
    first.close();
    const seenFirst = postIds(first.events);
    const second = await stream(reader, { lastEventId: first.lastEventId });
    const written = await posting;
    await second.next(isPost(written.at(-1)!));
    assert.deepEqual([...seenFirst, ...postIds(second.events)], written);
    assert.ok(!second.events.some((event) => event.event === 'reset'));
    // The ids on the wire only increase.
    const ids = [...first.events, ...second.events].map((event) => event.id!);
    assert.deepEqual(ids, [...ids].sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]) || Number(a.split('-')[1]) - Number(b.split('-')[1])));
  });

  it('takes Last-Event-ID from the lastEventId query too', async () => {
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, reader, author);
    const first = await stream(reader);
    const one = await publish(api, author, 'one');
    await first.next(isPost(one.id));
    first.close();
    const two = await publish(api, author, 'two');
    const resumed = await stream(reader, { query: `?lastEventId=${encodeURIComponent(first.lastEventId)}` });
    await resumed.next(isPost(two.id));
    assert.deepEqual(postIds(resumed.events), [two.id]);
  });

  it('says reset, rather than replay part, for an id the backlog no longer vouches for', async () => {
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, reader, author);
    const first = await stream(reader);
    const one = await publish(api, author, 'seen');
    await first.next(isPost(one.id));
    first.close();
    // Past the backlog's 10 (Redis trims whole nodes of 100 entries: more are needed there).
    const missed = servicesDatabaseUrl === undefined ? 15 : 250;
    for (let start = 0; start < missed; start += 25) {
      await Promise.all(Array.from({ length: Math.min(25, missed - start) }, (_, i) => publish(api, author, `missed ${start + i}`)));
    }
    await shared.testApp.deps.outbox.drained(10_000);
    for (const stale of [first.lastEventId, '1-0', 'not-an-id']) {
      const again = await stream(reader, { lastEventId: stale });
      const reset = await again.next((event) => event.event !== 'message');
      assert.equal(reset.event, 'reset', `for ${stale}`);
      assert.match(JSON.parse(reset.data).reason, /fetch/);
      again.close();
      // The reset's id is a place to resume from: coming back with it replays nothing and resets nothing.
      const resumed = await stream(reader, { lastEventId: reset.id! });
      const next = await publish(api, author, 'after the reset');
      await resumed.next(isPost(next.id));
      assert.deepEqual(resumed.events.map((event) => event.event), ['post']);
      resumed.close();
    }
  });

  it('cuts off a reader that never reads, while another keeps receiving', async () => {
    const [victim, liker] = await Promise.all([signUp(api), signUp(api)]);
    const reading = await stream(victim);
    const droppedBefore = await metric('stream_clients_dropped_total');
    // A raw connection that sends the request and never reads a byte of the answer.
    const stalled = connect(Number(new URL(shared.testApp.url).port), '127.0.0.1');
    stalled.pause();
    stalled.write(`GET /v1/stream HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${victim.accessToken}\r\n\r\n`);
    after(() => void stalled.destroy());
    await eventually(async () => assert.ok((await metric('stream_open_connections')) >= 2));
    // Large notifications (each carries its post's text) until the kernel's buffers and then the 16 KiB bound are full.
    const text = '👨‍👩‍👧‍👦'.repeat(450);
    let likes = 0;
    while ((await metric('stream_clients_dropped_total')) === droppedBefore) {
      assert.ok(likes < 2000, 'the stalled reader is cut off');
      const posts = await Promise.all(Array.from({ length: 20 }, () => publish(api, victim, text)));
      await Promise.all(posts.map((post) => api.call('PUT', `/v1/posts/${post.id}/like`, { token: liker.accessToken })));
      likes += posts.length;
      await shared.testApp.deps.outbox.drained(10_000);
    }
    const last = await publish(api, victim, 'still here');
    await reading.next(isPost(last.id), 10_000);
    assert.equal(reading.events.filter((event) => event.event === 'notification').length, likes);
  });

  it('closes the stream of a session that logs out, and the other sessions’ on a password change', async () => {
    const user = await signUp(api);
    const other = (await api.post('/v1/auth/login', { email: user.user.email, password: user.password })).body;
    const [mine, theirs] = await Promise.all([stream(user), stream(other)]);
    assert.equal((await api.put('/v1/account/password', { currentPassword: user.password, newPassword: 'a-brand-new-password' }, { token: user.accessToken })).status, 204);
    await theirs.ended;
    assert.equal((await api.post('/v1/auth/logout', { refreshToken: user.refreshToken })).status, 204);
    await mine.ended;
    const refused = await stream(user);
    assert.equal(refused.status, 401);
  });

  it(`keeps at most ${MAX_STREAMS_PER_USER} streams of one user open, ending the oldest`, async () => {
    const user = await signUp(api);
    const opened: SseStream[] = [];
    for (let i = 0; i < MAX_STREAMS_PER_USER; i += 1) opened.push(await stream(user));
    const newest = await stream(user);
    await opened[0]!.ended;
    const post = await publish(api, user, 'to the newest streams');
    await Promise.all([newest, ...opened.slice(1)].map((open) => open.next(isPost(post.id))));
  });

  it('refuses a missing or bad token with a 401 problem, and takes ?access_token= on this route only', async () => {
    for (const attempt of [await stream(undefined), await stream(undefined, { headers: { authorization: 'Bearer nope' } }), await stream(undefined, { query: '?access_token=nope' })]) {
      await attempt.ended;
      assertProblem({ status: attempt.status, headers: new Headers(attempt.headers as Record<string, string>), body: JSON.parse(attempt.text()), text: attempt.text() }, 401, 'unauthorized');
    }
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, reader, author);
    const viaQuery = await stream(undefined, { query: `?access_token=${reader.accessToken}` });
    assert.equal(viaQuery.status, 200);
    const post = await publish(api, author, 'for EventSource');
    await viaQuery.next(isPost(post.id));
    assert.equal((await api.get(`/v1/account?access_token=${reader.accessToken}`)).status, 401);
    assert.ok((await metric('stream_events_sent_total')) >= 1);
  });

  it('ends open streams when the app shuts down, without waiting out the shutdown timeout', async () => {
    const other = await startApp();
    const user = await signUp(client(other));
    const live = await stream(user, {}, other.url);
    const started = Date.now();
    await other.close();
    await live.ended;
    assert.ok(Date.now() - started < 5000, `closed in ${Date.now() - started} ms`);
  });
});

it('refuses a heartbeat that the idle timeout would cut off', () => {
  assert.throws(
    () => loadConfig({ STREAM_HEARTBEAT_SECONDS: '60', IDLE_TIMEOUT_MS: '30000', STREAM_BUFFER_BYTES: '10' }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.problems.some((problem) => problem.startsWith('STREAM_HEARTBEAT_SECONDS must be shorter than IDLE_TIMEOUT_MS')) &&
      error.problems.some((problem) => problem.startsWith('STREAM_BUFFER_BYTES must be an integer')),
  );
});

describe('live events across instances sharing Redis', { skip: servicesDatabaseUrl === undefined && 'services run only (PostgreSQL and Redis)' }, () => {
  it('passes events, and session endings, from one instance to streams on another', async () => {
    const deps = await createDeps(shared.testApp.config, { logStream: new Writable({ write: (_chunk, _encoding, done) => done() }) });
    const second = await buildApp(shared.testApp.config, deps);
    await second.listen({ port: 0, host: '127.0.0.1' });
    after(() => second.close());
    const address = second.server.address();
    const secondUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    const onSecond = await stream(reader, {}, secondUrl);
    await follow(api, author, reader);
    await onSecond.next((event) => event.event === 'notification');
    await follow(api, reader, author);
    const post = await publish(api, author, 'from the first instance');
    await onSecond.next(isPost(post.id), 1000);
    // A replay read on the first instance of events the second sent.
    const onFirst = await stream(reader, { lastEventId: onSecond.events[0]!.id! });
    await onFirst.next(isPost(post.id));
    assert.equal(onFirst.events.length, 1);
    assert.equal((await api.post('/v1/auth/logout', { refreshToken: reader.refreshToken })).status, 204);
    await Promise.all([onSecond.ended, onFirst.ended]);
  });
});
