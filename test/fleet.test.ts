import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { fleetSkipReason, startFleet, type Fleet } from './helpers/fleet.ts';
import { client, type Client } from './helpers/http.ts';
import type { ServerProcess } from './helpers/server-process.ts';
import { follow, publish, signUp } from './helpers/factories.ts';
import { assertBecameMedia, create, offsetOf, patch, tus, wav } from './helpers/tus.ts';
import { eventually } from './helpers/wait.ts';
import { openStream } from './helpers/sse.ts';

const MiB = 1024 * 1024;
/** Every login attempt on one account counts, whichever instance takes it. */
const LOGINS_PER_ACCOUNT = 6;

const skip = fleetSkipReason();
if (skip !== false) console.log(`# fleet tests skipped: ${skip}`);

describe('two instances behind nginx', { skip }, () => {
  let fleet: Fleet;
  let viaNginx: Client;
  let direct: Client[];

  before(async () => {
    fleet = await startFleet(2, { LOGIN_RATE_LIMIT_PER_ACCOUNT: String(LOGINS_PER_ACCOUNT) });
    viaNginx = client(fleet.url);
    direct = fleet.instances.map((instance) => client(instance.url));
  });
  after(async () => fleet?.close());

  /** Which instances logged a request with this id: the ones nginx sent it to. */
  const instancesThatSaw = (requestId: string) =>
    fleet.instances.flatMap((instance, index) => (instance.output().includes(`"reqId":"${requestId}"`) ? [index] : []));

  it('takes a session made on one instance on the other: nginx spreads requests over both', async () => {
    const alice = await signUp(viaNginx);
    for (const api of direct) {
      const account = await api.get('/v1/account', { token: alice.accessToken });
      assert.equal(account.status, 200, account.text);
      assert.equal(account.body.id, alice.user.id);
    }
    const ids = ['fleet-spread-1', 'fleet-spread-2', 'fleet-spread-3', 'fleet-spread-4'];
    for (const id of ids) {
      const account = await viaNginx.get('/v1/account', { token: alice.accessToken, headers: { 'x-request-id': id } });
      assert.equal(account.status, 200, account.text);
    }
    await eventually(async () => assert.deepEqual([...new Set(ids.flatMap(instancesThatSaw))].sort(), [0, 1]));
  });

  it('sends a live event to a stream on one instance for a post made on the other', async () => {
    const [here] = direct;
    assert.ok(here !== undefined);
    const [author, reader] = await Promise.all([signUp(viaNginx), signUp(viaNginx)]);
    await follow(here, reader, author);
    const stream = await openStream(fleet.instances[1]!.url, { token: reader.accessToken });
    try {
      assert.equal(stream.status, 200, stream.text());
      const post = await publish(here, author, 'from the other instance');
      const event = await stream.next((candidate) => candidate.event === 'post' && JSON.parse(candidate.data).id === post.id, 5_000);
      assert.ok(event.id !== undefined, 'each event has an id');
    } finally {
      stream.close();
    }
  });

  it('ends a session on every instance at once when it is ended on one, cached answers and open streams included', async () => {
    const [here, there] = direct;
    assert.ok(here !== undefined && there !== undefined);
    const [alice, bob] = await Promise.all([signUp(viaNginx), signUp(viaNginx)]);
    // The other instance has the tokens' sessions in its access cache (AUTH_CACHE_SECONDS, 10 s).
    for (const session of [alice, bob]) assert.equal((await there.get('/v1/account', { token: session.accessToken })).status, 200);
    const stream = await openStream(fleet.instances[1]!.url, { token: alice.accessToken });
    try {
      assert.equal(stream.status, 200, stream.text());
      assert.equal((await here.post('/v1/auth/logout', { refreshToken: alice.refreshToken })).status, 204);
      // Well inside the cache's 10 s: only the published ending explains a refusal.
      await eventually(async () => assert.equal((await there.get('/v1/account', { token: alice.accessToken })).status, 401), 2_000);
      await stream.ended;
      assert.equal((await there.get('/v1/account', { token: bob.accessToken })).status, 200, 'other sessions are untouched');
    } finally {
      stream.close();
    }
  });

  it('continues a tus upload on whichever instance each chunk reaches', async () => {
    const alice = await signUp(viaNginx);
    const [first, second] = fleet.instances;
    assert.ok(first !== undefined && second !== undefined);
    const bytes = wav(300_000);
    const path = await create(first, alice.accessToken, bytes.length, 'relay.wav');
    const ends = [70_000, 140_001, 200_000, bytes.length];
    let offset = 0;
    for (const [index, end] of ends.entries()) {
      const writer = index % 2 === 0 ? second : first;
      const reader: ServerProcess = writer === first ? second : first;
      const answer = await patch(writer, alice.accessToken, path, offset, bytes.subarray(offset, end));
      assert.equal(answer.status, 204, answer.text);
      assert.equal(answer.headers.get('upload-offset'), String(end));
      if (end < bytes.length) assert.equal(await offsetOf(reader, alice.accessToken, path), end, 'the other instance sees the offset');
      offset = end;
    }
    await assertBecameMedia({ url: fleet.url }, alice.accessToken, path, bytes, 'relay.wav');
  });

  it("takes tus chunks past nginx's default body limit (1 MiB) through nginx, spread over both instances", async () => {
    const alice = await signUp(viaNginx);
    const bytes = wav(3 * MiB + 777);
    const path = await create({ url: fleet.url }, alice.accessToken, bytes.length, 'through nginx.wav');
    const ids: string[] = [];
    for (let offset = 0, index = 0; offset < bytes.length; index += 1) {
      const end = Math.min(offset + 1.5 * MiB, bytes.length);
      const id = `fleet-chunk-${index}`;
      ids.push(id);
      const answer = await tus({ url: fleet.url }, 'PATCH', path, {
        token: alice.accessToken,
        headers: { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', 'x-request-id': id },
        body: bytes.subarray(offset, end),
      });
      assert.equal(answer.status, 204, `${answer.text}\n${fleet.nginxLog()}`);
      offset = end;
    }
    await eventually(async () => assert.deepEqual([...new Set(ids.flatMap(instancesThatSaw))].sort(), [0, 1]));
    await assertBecameMedia({ url: fleet.url }, alice.accessToken, path, bytes, 'through nginx.wav');
  });

  it('lets one of two PATCHes racing on one upload from two instances write it, and refuses the other cleanly', async () => {
    const alice = await signUp(viaNginx);
    const [first, second] = fleet.instances;
    assert.ok(first !== undefined && second !== undefined);
    // Each client sends the first half of its file; without a shared lock both would be told 204.
    const slow = wav(200_000);
    const fast = wav(200_000);
    const half = 100_000;
    const path = await create(first, alice.accessToken, slow.length, 'race.wav');

    // The first PATCH sends a little and then holds on, keeping the upload's lock on its instance.
    let finishSlowBody = () => {};
    const slowBody = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(slow.subarray(0, 1000));
        finishSlowBody = () => {
          try {
            controller.enqueue(slow.subarray(1000, half));
            controller.close();
          } catch {}
        };
      },
    });
    const slowPatch = tus(first, 'PATCH', path, {
      token: alice.accessToken,
      headers: { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream', 'content-length': String(half) },
      body: slowBody,
    }).catch((error: unknown) => error);
    await eventually(async () => assert.equal(await advisoryLocksHeld(fleet), 1, 'the slow PATCH holds the upload lock'));

    // The second asks the first to let go (tus's lock request): the first stops, keeping what it
    // received, and answers with that offset; the second, now behind it, is refused as stale.
    const fastAnswer = await patch(second, alice.accessToken, path, 0, fast.subarray(0, half));
    finishSlowBody();
    const slowAnswer = await slowPatch;
    assert.ok(!(slowAnswer instanceof Error), `the first PATCH gets an answer: ${String(slowAnswer)}`);
    const answers = [slowAnswer as Awaited<ReturnType<typeof tus>>, fastAnswer];
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [204, 409], answers.map((answer) => answer.text).join(' | '));
    const winner = answers[0]?.status === 204 ? { answer: answers[0], bytes: slow } : { answer: fastAnswer, bytes: fast };
    assert.ok(winner.answer !== undefined);
    const kept = Number(winner.answer.headers.get('upload-offset'));
    assert.ok(kept > 0 && kept <= half, `the winner's offset: ${kept}`);
    assert.equal(await offsetOf(second, alice.accessToken, path), kept);

    // The winner's client resumes where its bytes end; the upload holds its bytes and no one else's.
    const rest = await patch(second, alice.accessToken, path, kept, winner.bytes.subarray(kept));
    assert.equal(rest.status, 204, rest.text);
    await assertBecameMedia({ url: fleet.url }, alice.accessToken, path, winner.bytes, 'race.wav');
    assert.equal(await advisoryLocksHeld(fleet), 0, 'no lock is left behind');
  });

  it('logs no query string in nginx: tokens and signatures travel there', async () => {
    const answer = await viaNginx.get('/healthz?access_token=never-logged');
    assert.equal(answer.status, 200);
    await eventually(async () => assert.match(fleet.accessLog(), /"GET \/healthz HTTP\/1\.1" 200/));
    assert.doesNotMatch(fleet.accessLog(), /never-logged/);
  });

  it('shares rate limits: failed sign-ins spread over both instances meet one limit', async () => {
    const bob = await signUp(viaNginx);
    const statuses: number[] = [];
    const ids: string[] = [];
    for (let attempt = 1; attempt <= LOGINS_PER_ACCOUNT + 1; attempt += 1) {
      const id = `fleet-login-${attempt}`;
      ids.push(id);
      const answer = await viaNginx.post('/v1/auth/login', { email: bob.user.email, password: 'wrong-password' }, { headers: { 'x-request-id': id } });
      statuses.push(answer.status);
    }
    assert.deepEqual(statuses, [...Array(LOGINS_PER_ACCOUNT).fill(401), 429]);
    await eventually(async () => assert.deepEqual([...new Set(ids.flatMap(instancesThatSaw))].sort(), [0, 1]));
    // Refused on the instances directly as well, and for the right password too: the count is shared.
    for (const api of direct) {
      assert.equal((await api.post('/v1/auth/login', { email: bob.user.email, password: bob.password })).status, 429);
    }
  });
});

/** Advisory locks held in the fleet's database: tus's upload locks. */
async function advisoryLocksHeld(fleet: Fleet): Promise<number> {
  const connection = new pg.Client({ connectionString: fleet.env.DATABASE_URL });
  await connection.connect();
  try {
    const { rows } = await connection.query<{ held: number }>(
      `select count(*)::int as held from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())`,
    );
    return rows[0]?.held ?? 0;
  } finally {
    await connection.end();
  }
}
