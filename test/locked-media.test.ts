import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appPerFile } from './helpers/app.ts';
import { assertProblem, follow, publish, signUp, unfollow, type TestSession } from './helpers/factories.ts';
import { ADMIN_EMAIL, grant, signUpAdmin } from './helpers/ledger.ts';
import { uploadAndSettle } from './helpers/media.ts';
import { blankPng } from './helpers/media-samples.ts';

/**
 * Locked media: for a caller who has not bought a paid post, every way to its media's bytes answers
 * 402 — every file, ranges, the bearer path, and signed links handed out while the item was still
 * theirs to read.
 */
const shared = appPerFile({ ADMIN_EMAILS: ADMIN_EMAIL });
const { api } = shared;
const as = (session: TestSession) => ({ token: session.accessToken });
let admin: Promise<TestSession> | undefined;
const operator = () => (admin ??= signUpAdmin(api));

const FILES = ['', '?variant=clean', '?variant=thumbnail', '?variant=small', '?variant=large'];

/** A photo big enough for every size, in a paid post by `author`. */
async function paidPhoto(author: TestSession, options: { alsoFree?: boolean; visibility?: 'followers' } = {}) {
  const media = await uploadAndSettle(api, author.accessToken, blankPng(1600, 1200));
  const free = options.alsoFree ? await publish(api, author, { text: 'free for now', mediaIds: [media.id], ...(options.visibility && { visibility: options.visibility }) }) : undefined;
  const paid = await publish(api, author, { text: 'for 20 coins', mediaIds: [media.id], priceCoins: 20 });
  return { mediaId: media.id as string, paid, free };
}

/** GETs a signed link as handed out: no token. */
const fetchLink = (url: string, headers: Record<string, string> = {}) => fetch(new URL(url, shared.testApp.url), { headers });

async function statusOf(response: Response): Promise<number> {
  await response.arrayBuffer();
  return response.status;
}

describe('locked media', () => {
  test('every file and every range of a paid post’s item is 402 to a signed-in caller who did not buy it, and theirs once they do', async () => {
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    const { mediaId, paid } = await paidPhoto(author);
    for (const file of FILES) {
      assertProblem(await api.get(`/v1/media/${mediaId}/content${file}`, as(reader)), 402, 'purchase_required');
      const ranged = await api.get(`/v1/media/${mediaId}/content${file}`, { ...as(reader), headers: { range: 'bytes=0-9' } });
      assertProblem(ranged, 402, 'purchase_required');
    }
    assert.equal((await api.call('HEAD', `/v1/media/${mediaId}/content`, as(reader))).status, 402);

    await grant(api, await operator(), reader, 20);
    assert.equal((await api.post(`/v1/posts/${paid.id}/purchase`, undefined, as(reader))).status, 201);
    for (const file of FILES) assert.equal((await api.get(`/v1/media/${mediaId}/content${file}`, as(reader))).status, 200, file);
    const ranged = await api.get(`/v1/media/${mediaId}/content?variant=small`, { ...as(reader), headers: { range: 'bytes=0-9' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range')?.startsWith('bytes 0-9/'), true);
  });

  test('a signed link handed out through a free post stops when that post goes and only a paid one holds the item', async () => {
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    const { mediaId, free } = await paidPhoto(author, { alsoFree: true });
    const seen = (await api.get(`/v1/posts/${free!.id}`, as(reader))).body.media[0];
    const anonymous = (await api.get(`/v1/posts/${free!.id}`)).body.media[0];
    assert.ok(seen.url.includes(`viewer=${reader.user.id}`), 'a signed-in reader’s link names them');
    assert.ok(!anonymous.url.includes('viewer='), 'an anonymous reader’s link names nobody');
    for (const url of [seen.url, seen.thumbnailUrl, anonymous.url, anonymous.thumbnailUrl]) assert.equal(await statusOf(await fetchLink(url)), 200);

    assert.equal((await api.delete(`/v1/posts/${free!.id}`, undefined, as(author))).status, 204);
    for (const url of [seen.url, seen.thumbnailUrl, anonymous.url, anonymous.thumbnailUrl]) {
      const answer = await fetchLink(url);
      assert.equal(await statusOf(answer), 402, url);
      assert.equal((await fetchLink(url, { range: 'bytes=0-9' })).status, 402);
    }
    assertProblem(await api.get(`/v1/media/${mediaId}/content?variant=clean`, as(reader)), 402, 'purchase_required');
    // The author’s own links still work: the item is theirs.
    const own = (await api.get(`/v1/media/${mediaId}`, as(author))).body;
    assert.equal(await statusOf(await fetchLink(own.url)), 200);
    assert.equal(await statusOf(await fetchLink(own.thumbnailUrl)), 200);
  });

  test('a follower’s signed link to a followers-only post stops at the unfollow', async () => {
    const [author, follower] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, follower, author);
    const media = await uploadAndSettle(api, author.accessToken, blankPng(320, 240));
    const post = await publish(api, author, { text: 'inner circle', mediaIds: [media.id], visibility: 'followers' });
    const { url } = (await api.get(`/v1/posts/${post.id}`, as(follower))).body.media[0];
    assert.equal(await statusOf(await fetchLink(url)), 200);
    await unfollow(api, follower, author);
    assert.equal(await statusOf(await fetchLink(url)), 404);
  });

  test('a buyer’s links work; the same link with another viewer, or none, is 403', async () => {
    const [author, buyer, other] = await Promise.all([signUp(api), signUp(api), signUp(api)]);
    const { paid } = await paidPhoto(author);
    await grant(api, await operator(), buyer, 20);
    assert.equal((await api.post(`/v1/posts/${paid.id}/purchase`, undefined, as(buyer))).status, 201);
    const { url } = (await api.get(`/v1/posts/${paid.id}`, as(buyer))).body.media[0];
    assert.equal(await statusOf(await fetchLink(url)), 200);
    const swapped = url.replace(`viewer=${buyer.user.id}`, `viewer=${other.user.id}`);
    assert.notEqual(swapped, url);
    assert.equal(await statusOf(await fetchLink(swapped)), 403);
    assert.equal(await statusOf(await fetchLink(url.replace(`viewer=${buyer.user.id}&`, ''))), 403);
    assert.equal(await statusOf(await fetchLink(`${url}&viewer=x`)), 400, 'one viewer per link');
  });
});
