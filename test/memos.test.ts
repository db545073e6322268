import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApp, type TestApp } from './helpers/app.ts';
import { client, type Client } from './helpers/http.ts';
import { assertProblem, signUp, type TestSession } from './helpers/factories.ts';

let testApp: TestApp;
let api: Client;
let alice: TestSession;
let bob: TestSession;

before(async () => {
  testApp = await startApp();
  api = client(testApp);
  alice = await signUp(api);
  bob = await signUp(api);
});
after(() => testApp.close());

const write = async (session: TestSession, text: string) => {
  const answer = await api.post('/v1/memos', { text }, { token: session.accessToken });
  assert.equal(answer.status, 201, answer.text);
  return answer.body as { id: string; text: string };
};

/** Reads every page, running `between` after each page but the last. */
async function readAllPages(session: TestSession, query: string, between?: (page: number) => Promise<void>) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; ; page++) {
    const suffix: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const answer = await api.get(`/v1/memos?${query}${suffix}`, { token: session.accessToken });
    assert.equal(answer.status, 200, answer.text);
    ids.push(...answer.body.items.map((memo: { id: string }) => memo.id));
    cursor = answer.body.nextCursor;
    if (cursor === null) return ids;
    await between?.(page);
  }
}

describe('memos', () => {
  it('creates, reads, edits and deletes a memo', async () => {
    const created = await api.post('/v1/memos', { text: 'buy milk' }, { token: alice.accessToken });
    assert.equal(created.status, 201);
    assert.equal(created.body.text, 'buy milk');
    assert.equal(created.body.createdAt, created.body.updatedAt);

    const read = await api.get(`/v1/memos/${created.body.id}`, { token: alice.accessToken });
    assert.deepEqual(read.body, created.body);

    const edited = await api.patch(`/v1/memos/${created.body.id}`, { text: 'buy oat milk' }, { token: alice.accessToken });
    assert.equal(edited.status, 200);
    assert.equal(edited.body.text, 'buy oat milk');
    assert.equal(edited.body.createdAt, created.body.createdAt);
    assert.ok(edited.body.updatedAt >= created.body.updatedAt);

    const removed = await api.delete(`/v1/memos/${created.body.id}`, undefined, { token: alice.accessToken });
    assert.equal(removed.status, 204);
    assertProblem(await api.get(`/v1/memos/${created.body.id}`, { token: alice.accessToken }), 404, 'not_found');
    assertProblem(await api.delete(`/v1/memos/${created.body.id}`, undefined, { token: alice.accessToken }), 404, 'not_found');
  });

  it('hides memos from everyone but their owner', async () => {
    const memo = await write(alice, 'private thoughts');
    const asBob = { token: bob.accessToken };
    assertProblem(await api.get(`/v1/memos/${memo.id}`, asBob), 404, 'not_found');
    assertProblem(await api.patch(`/v1/memos/${memo.id}`, { text: 'hacked' }, asBob), 404, 'not_found');
    assertProblem(await api.delete(`/v1/memos/${memo.id}`, undefined, asBob), 404, 'not_found');
    assert.ok(!(await readAllPages(bob, 'limit=100')).includes(memo.id));
    assert.equal((await api.get(`/v1/memos/${memo.id}`, { token: alice.accessToken })).body.text, 'private thoughts');
    assertProblem(await api.get(`/v1/memos/${memo.id}`), 401, 'unauthorized');
    assertProblem(await api.get('/v1/memos'), 401, 'unauthorized');
    assertProblem(await api.post('/v1/memos', { text: 'anonymous' }), 401, 'unauthorized');
  });

  it('stores any text verbatim: unicode, SQL-looking, the longest allowed', async () => {
    for (const text of [
      "'; DELETE FROM memos; --",
      'emoji 👩‍👩‍👧‍👦 and RTL \u202Eabc and zero-width \u200B',
      'line\nbreaks\tand "quotes" and \\backslashes\\',
      '𝔘𝔫𝔦𝔠𝔬𝔡𝔢'.repeat(1000).slice(0, 10_000),
      'x'.repeat(10_000),
    ]) {
      const memo = await write(alice, text);
      assert.equal((await api.get(`/v1/memos/${memo.id}`, { token: alice.accessToken })).body.text, text);
    }
  });

  it('refuses bad input and changes nothing', async () => {
    const memo = await write(alice, 'keep me');
    const token = alice.accessToken;
    for (const body of [{}, { text: '' }, { text: 'x'.repeat(10_001) }, { text: 5 }, { text: null }, { text: ['a'] }, { text: 'ok', extra: 1 }]) {
      assertProblem(await api.post('/v1/memos', body, { token }), 400, 'invalid_request');
      assertProblem(await api.patch(`/v1/memos/${memo.id}`, body, { token }), 400, 'invalid_request');
    }
    assert.equal((await api.get(`/v1/memos/${memo.id}`, { token })).body.text, 'keep me');
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'limit=1.5', 'cursor=not-a-cursor', 'cursor=' + Buffer.from('[1]').toString('base64url'), 'sort=asc']) {
      assertProblem(await api.get(`/v1/memos?${query}`, { token }), 400, 'invalid_request');
    }
    assertProblem(await api.get(`/v1/memos/${'x'.repeat(65)}`, { token }), 400, 'invalid_request');
    assertProblem(await api.get(`/v1/memos/${'x'.repeat(9000)}`, { token }), 414, 'uri_too_long');
    assertProblem(await api.post('/v1/memos', { text: 'nul \u0000 inside' }, { token }), 400, 'invalid_request');
    assertProblem(await api.get('/v1/memos?q=%00', { token }), 400, 'invalid_request');
  });

  it('pages newest first without repeats or gaps', async () => {
    const pager = await signUp(api);
    const written: string[] = [];
    for (let i = 0; i < 45; i++) written.push((await write(pager, `memo ${i}`)).id);
    const first = await api.get('/v1/memos', { token: pager.accessToken });
    assert.equal(first.body.items.length, 20, 'default limit is 20');
    const ids = await readAllPages(pager, 'limit=20');
    assert.deepEqual(ids, written.reverse());
    const last = await api.get(`/v1/memos?limit=100`, { token: pager.accessToken });
    assert.equal(last.body.nextCursor, null);
  });

  it('neither repeats nor skips while others insert and delete during paging', async () => {
    const pager = await signUp(api);
    const existing: string[] = [];
    for (let i = 0; i < 30; i++) existing.push((await write(pager, `before ${i}`)).id);
    const newestFirst = [...existing].reverse();
    const deleted = new Set<string>();

    const seen = await readAllPages(pager, 'limit=7', async (page) => {
      // Concurrently: new memos arrive and older ones (some on pages not read yet) are deleted.
      const victims = newestFirst.slice(10 + page * 3, 11 + page * 3);
      await Promise.all([
        write(pager, `during ${page}a`),
        write(pager, `during ${page}b`),
        ...victims.map(async (id) => {
          deleted.add(id);
          await api.delete(`/v1/memos/${id}`, undefined, { token: pager.accessToken });
        }),
      ]);
    });
    assert.equal(new Set(seen).size, seen.length, 'no repeats');
    const expected = newestFirst.filter((id) => !deleted.has(id) || seen.includes(id));
    assert.deepEqual(seen, expected, 'every memo that existed and was not deleted before its page, in order');
    assert.ok(deleted.size > 0);
  });

  it('searches text case-insensitively, with % and _ taken literally', async () => {
    const searcher = await signUp(api);
    const coffee = await write(searcher, 'Coffee with Ümit at 10');
    await write(searcher, 'tea');
    const percent = await write(searcher, 'discount 50% off');
    const underscore = await write(searcher, 'snake_case name');
    await write(bob, 'coffee that is not yours');

    const search = async (q: string) =>
      (await api.get(`/v1/memos?q=${encodeURIComponent(q)}`, { token: searcher.accessToken })).body.items.map(
        (memo: { id: string }) => memo.id,
      );
    assert.deepEqual(await search('COFFEE'), [coffee.id]);
    assert.deepEqual(await search('%'), [percent.id]);
    assert.deepEqual(await search('_'), [underscore.id]);
    assert.deepEqual(await search("' OR 1=1 --"), []);
    assert.equal((await search('')).length, 4, 'an empty query matches everything');

    for (let i = 0; i < 5; i++) await write(searcher, `coffee refill ${i}`);
    const pages = await readAllPages(searcher, 'limit=2&q=coffee');
    assert.equal(pages.length, 6);
  });
});
