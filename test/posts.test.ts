import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { appPerFile } from './helpers/app.ts';
import { queriesDuring } from './helpers/queries.ts';
import { assertProblem, follow, publish, signUp, type TestSession } from './helpers/factories.ts';
import type { Answer } from './helpers/http.ts';
import { putRecording, uploadAndSettle, uploadRaw } from './helpers/media.ts';
import { imageSample, pngBomb, wavSample } from './helpers/media-samples.ts';

const shared = appPerFile();
const { api } = shared;
let alice: TestSession;
let bob: TestSession;

before(async () => {
  [alice, bob] = await Promise.all([signUp(api), signUp(api)]);
});

/** `POST /v1/posts` as is, for answers other than 201. */
const tryPublish = (session: TestSession, body: Record<string, unknown>) => api.post('/v1/posts', body, { token: session.accessToken });

describe('POST /v1/posts', () => {
  test('publishes text and up to four of your own media, processing or ready', async () => {
    const ready = await uploadAndSettle(api, alice.accessToken, await imageSample('png'));
    const processing = (await uploadRaw(api, alice.accessToken, await imageSample('jpeg'))).body;
    const created = await publish(api, alice, { text: 'hello', mediaIds: [ready.id, processing.id] });
    assert.equal(created.text, 'hello');
    assert.equal(created.author.id, alice.user.id);
    assert.deepEqual(created.media.map((item: { id: string }) => item.id), [ready.id, processing.id]);
    assert.ok(created.media[0].url, 'the author reads their media');
    assert.equal(created.visibility, 'public');
    assert.deepEqual([created.priceCoins, created.locked, created.likeCount, created.likedByMe, created.purchasedByMe], [0, false, 0, false, false]);
    assert.deepEqual(await api.get(`/v1/posts/${created.id}`).then((answer) => answer.body.id), created.id);
    assert.equal((await api.get(`/v1/users/${alice.user.handle}`)).body.counts.posts >= 1, true);
  });

  test('counts the author’s posts exactly, concurrent ones too, and its answer counts the new post', async () => {
    const writer = await signUp(api);
    const first = await publish(api, writer, { text: 'first' });
    assert.equal(first.author.counts.posts, 1, 'the answer counts the post it announces');
    // More posts than the counter has slots: some land on a slot another post already moved.
    await Promise.all(Array.from({ length: 40 }, (_, n) => publish(api, writer, { text: `burst ${n}` })));
    assert.equal((await api.get(`/v1/users/${writer.user.handle}`)).body.counts.posts, 41);
    assert.equal((await publish(api, writer, { text: 'last' })).author.counts.posts, 42);
  });

  test('counts text as people see it: 500 emoji families pass, 501 do not', async () => {
    const family = '👨‍👩‍👧‍👦';
    assert.equal((await tryPublish(alice, { text: family.repeat(500) })).status, 201);
    const answer = await tryPublish(alice, { text: family.repeat(501) });
    assertProblem(answer, 400, 'invalid_request');
    assert.equal(answer.body.errors[0].path, '/text');
  });

  test('refuses bad input and publishes nothing', async () => {
    const before = (await api.get(`/v1/users/${bob.user.handle}/posts`)).body.items.length;
    const bobsImage = await uploadAndSettle(api, bob.accessToken, await imageSample('webp'));
    const alicesImage = await uploadAndSettle(api, alice.accessToken, await imageSample('gif'));
    const failed = await uploadAndSettle(api, bob.accessToken, pngBomb());
    assert.equal(failed.status, 'failed');
    const recording = (await putRecording(api, bob.accessToken, 'r.wav', wavSample(1))).body;
    const images = await Promise.all([1, 2, 3, 4, 5].map(async () => (await uploadRaw(api, bob.accessToken, await imageSample('png'))).body.id));
    const bodies: Record<string, unknown>[] = [
      {},
      { text: '   ' },
      { text: 'x', mediaIds: [alicesImage.id] },
      { text: 'x', mediaIds: [failed.id] },
      { text: 'x', mediaIds: [recording.id] },
      { text: 'x', mediaIds: ['01NOSUCHMEDIA0000000000000'] },
      { text: 'x', mediaIds: images },
      { text: 'x', mediaIds: [bobsImage.id, bobsImage.id] },
      { text: 'x', priceCoins: -1 },
      { text: 'x', priceCoins: 1.5 },
      { text: 'x', priceCoins: 1_000_001 },
      { text: 'x', priceCoins: '5' },
      { text: 'x', visibility: 'friends' },
      { text: 5 },
      { text: 'x', extra: true },
    ];
    for (const body of bodies) assertProblem(await tryPublish(bob, body), 400, 'invalid_request');
    assertProblem(await api.post('/v1/posts', { text: 'x' }), 401, 'unauthorized');
    assert.equal((await api.get(`/v1/users/${bob.user.handle}/posts`)).body.items.length, before);
  });
});

describe('visibility and paid posts', () => {
  test('a followers-only post is hidden from non-followers: 404 for them and for anonymous callers', async () => {
    const hidden = await publish(api, alice, { text: 'inner circle', visibility: 'followers' });
    assert.equal((await api.get(`/v1/posts/${hidden.id}`, { token: alice.accessToken })).status, 200);
    assertProblem(await api.get(`/v1/posts/${hidden.id}`, { token: bob.accessToken }), 404, 'not_found');
    assertProblem(await api.get(`/v1/posts/${hidden.id}`), 404, 'not_found');
    assertProblem(await api.call('PUT', `/v1/posts/${hidden.id}/like`, { token: bob.accessToken }), 404, 'not_found');
    const mine = (await api.get(`/v1/users/${alice.user.handle}/posts`, { token: alice.accessToken })).body.items;
    const theirs = (await api.get(`/v1/users/${alice.user.handle}/posts`, { token: bob.accessToken })).body.items;
    assert.ok(mine.some((item: { id: string }) => item.id === hidden.id));
    assert.ok(!theirs.some((item: { id: string }) => item.id === hidden.id));
    const publicPage = (await api.get('/v1/timelines/public?limit=100')).body.items;
    assert.ok(!publicPage.some((item: { id: string }) => item.id === hidden.id));
  });

  test('a paid post shows others its media without any link to the bytes', async () => {
    const image = await uploadAndSettle(api, alice.accessToken, await imageSample('png'));
    const paid = await publish(api, alice, { text: 'premium', mediaIds: [image.id], priceCoins: 30 });
    assert.equal(paid.locked, false, 'not locked for its author');
    assert.ok(paid.media[0].url);
    const seen = (await api.get(`/v1/posts/${paid.id}`, { token: bob.accessToken })).body;
    assert.equal(seen.locked, true);
    assert.equal(seen.priceCoins, 30);
    assert.deepEqual(Object.keys(seen.media[0]).sort(), ['blurhash', 'height', 'id', 'kind', 'width']);
    assert.doesNotMatch(JSON.stringify(seen), /content\?/);
  });
});

describe('reading the media of others’ posts with a bearer token', () => {
  const content = (mediaId: string, session?: TestSession) =>
    api.get(`/v1/media/${mediaId}/content`, session === undefined ? {} : { token: session.accessToken });

  test('works through a post the caller may see, and is 404 otherwise', async () => {
    const [author, follower, stranger] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    await follow(api, follower, author);
    const [loose, open, inner] = await Promise.all(
      ['png', 'gif', 'webp'].map(async (format) => uploadAndSettle(api, author.accessToken, await imageSample(format as 'png'))),
    );
    assertProblem(await content(loose!.id, stranger), 404, 'not_found');
    await publish(api, author, { text: 'for all', mediaIds: [open!.id] });
    await publish(api, author, { text: 'for followers', mediaIds: [inner!.id], visibility: 'followers' });

    const shared = await content(open!.id, stranger);
    assert.equal(shared.status, 200, shared.text);
    // Not the upload as it came, but its copy without metadata, which the author reads as ?variant=clean.
    const clean = await api.get(`/v1/media/${open!.id}/content?variant=clean`, { token: author.accessToken });
    assert.equal(shared.headers.get('etag'), clean.headers.get('etag'));
    assert.equal((await api.get(`/v1/media/${open!.id}/content?variant=thumbnail`, { token: stranger.accessToken })).status, 200);
    assert.equal((await content(inner!.id, follower)).status, 200);
    assertProblem(await content(inner!.id, stranger), 404, 'not_found');
    assertProblem(await content(open!.id), 401, 'unauthorized');
    assertProblem(await content(loose!.id, follower), 404, 'not_found'); // attached to no post, it stays private
  });

  test('asks for a purchase through a paid post, and stops when the post is deleted', async () => {
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    const image = await uploadAndSettle(api, author.accessToken, await imageSample('png'));
    const paid = await publish(api, author, { text: 'premium', mediaIds: [image.id], priceCoins: 10 });
    assertProblem(await content(image.id, reader), 402, 'purchase_required');
    assert.equal((await content(image.id, author)).status, 200);
    const free = await publish(api, author, { text: 'now free too', mediaIds: [image.id] });
    assert.equal((await content(image.id, reader)).status, 200, 'a free post holding it is enough');
    await api.delete(`/v1/posts/${free.id}`, undefined, { token: author.accessToken });
    await api.delete(`/v1/posts/${paid.id}`, undefined, { token: author.accessToken });
    assertProblem(await content(image.id, reader), 404, 'not_found');
  });
});

describe('likes', () => {
  test('are idempotent and exact under concurrency', async () => {
    const target = await publish(api, alice, { text: 'like me' });
    const likers = await Promise.all(Array.from({ length: 100 }, () => signUp(api)));
    const answers = await Promise.all(likers.map((liker) => api.call('PUT', `/v1/posts/${target.id}/like`, { token: liker.accessToken })));
    assert.ok(answers.every((answer) => answer.status === 204));
    assert.equal((await api.get(`/v1/posts/${target.id}`)).body.likeCount, 100);

    const again = await Promise.all(Array.from({ length: 50 }, () => api.call('PUT', `/v1/posts/${target.id}/like`, { token: bob.accessToken })));
    assert.ok(again.every((answer) => answer.status === 204));
    const seen = (await api.get(`/v1/posts/${target.id}`, { token: bob.accessToken })).body;
    assert.deepEqual([seen.likeCount, seen.likedByMe], [101, true]);

    const undo = await Promise.all(Array.from({ length: 20 }, () => api.call('DELETE', `/v1/posts/${target.id}/like`, { token: bob.accessToken })));
    assert.ok(undo.every((answer) => answer.status === 204));
    assert.equal((await api.get(`/v1/posts/${target.id}`)).body.likeCount, 100);

    const seenIds = new Set<string>();
    let cursor: string | null = null;
    do {
      const answer: Answer = await api.get(`/v1/posts/${target.id}/likes?limit=30${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(answer.status, 200, answer.text);
      for (const user of answer.body.items) {
        assert.ok(!seenIds.has(user.id), 'no liker twice');
        seenIds.add(user.id);
      }
      cursor = answer.body.nextCursor;
    } while (cursor !== null);
    assert.deepEqual([...seenIds].sort(), likers.map((liker) => liker.user.id).sort());
    assertProblem(await api.get(`/v1/posts/${target.id}/likes?cursor=bogus`), 400, 'invalid_request');
  });
});

describe('deleting a post', () => {
  test('is for its author only, and takes its likes and media links with it', async () => {
    const image = await uploadAndSettle(api, alice.accessToken, await imageSample('png'));
    const doomed = await publish(api, alice, { text: 'short-lived', mediaIds: [image.id] });
    await api.call('PUT', `/v1/posts/${doomed.id}/like`, { token: bob.accessToken });
    const count = (await api.get(`/v1/users/${alice.user.handle}`)).body.counts.posts;
    assertProblem(await api.delete(`/v1/posts/${doomed.id}`, undefined, { token: bob.accessToken }), 403, 'forbidden');
    assert.equal((await api.delete(`/v1/posts/${doomed.id}`, undefined, { token: alice.accessToken })).status, 204);
    assertProblem(await api.get(`/v1/posts/${doomed.id}`), 404, 'not_found');
    assertProblem(await api.delete(`/v1/posts/${doomed.id}`, undefined, { token: alice.accessToken }), 404, 'not_found');
    assert.equal((await api.get(`/v1/users/${alice.user.handle}`)).body.counts.posts, count - 1);
    const leftovers = await shared.testApp.deps.database.db
      .selectFrom('post_likes')
      .select('post_id')
      .where('post_id', '=', doomed.id)
      .unionAll(shared.testApp.deps.database.db.selectFrom('post_media').select('post_id').where('post_id', '=', doomed.id))
      .execute();
    assert.deepEqual(leftovers, []);
    assert.equal((await api.get(`/v1/media/${image.id}`, { token: alice.accessToken })).status, 200, 'the media item itself stays');
    const timeline = (await api.get('/v1/timelines/public?limit=100')).body.items;
    assert.ok(!timeline.some((item: { id: string }) => item.id === doomed.id));
  });
});

describe('the public timeline', () => {
  test('pages newest first without repeats or gaps while posts come and go', async () => {
    const author = await signUp(api);
    const first = await Promise.all(Array.from({ length: 12 }, (_, i) => publish(api, author, `p${i}`)));
    const seen: string[] = [];
    let cursor: string | null = null;
    let round = 0;
    do {
      const answer: Answer = await api.get(`/v1/users/${author.user.handle}/posts?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...answer.body.items.map((item: { id: string }) => item.id));
      cursor = answer.body.nextCursor;
      if (round++ === 0) {
        await publish(api, author, { text: 'newer, above the cursor' });
        await api.delete(`/v1/posts/${seen[0]}`, undefined, { token: author.accessToken });
      }
    } while (cursor !== null);
    assert.deepEqual(seen, first.map((item) => item.id).sort().reverse());

    const page = (await api.get('/v1/timelines/public?limit=20')).body.items.map((item: { id: string }) => item.id);
    assert.deepEqual(page, [...page].sort().reverse(), 'newest first');
  });

  test('costs the same number of queries for 2 posts as for 20 posts with media and likes', async () => {
    const author = await signUp(api);
    const image = await uploadAndSettle(api, author.accessToken, await imageSample('png'));
    const queriesFor = (limit: number) =>
      queriesDuring(shared.testApp, async () => {
        const answer = await api.get(`/v1/users/${author.user.handle}/posts?limit=${limit}`, { token: bob.accessToken });
        assert.equal(answer.body.items.length, limit);
      });
    for (let i = 0; i < 20; i++) {
      const created = await publish(api, author, { text: `with media ${i}`, mediaIds: [image.id] });
      if (i % 2 === 0) await api.call('PUT', `/v1/posts/${created.id}/like`, { token: bob.accessToken });
    }
    // The outbox relay's fan-out queries go through the same database: let them finish first.
    await shared.testApp.deps.outbox.drained(10_000);
    await queriesFor(2); // warm the session cache
    assert.equal(await queriesFor(20), await queriesFor(2));
  });
});
