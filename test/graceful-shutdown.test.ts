import assert from 'node:assert/strict';
import { once } from 'node:events';
import { get, request, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { servicesDatabaseUrl } from './helpers/database.ts';
import { follow, publish, signUp } from './helpers/factories.ts';
import { client } from './helpers/http.ts';
import { serverStorage, startServer, type ServerProcess, type ServerStorage } from './helpers/server-process.ts';
import { openStream } from './helpers/sse.ts';
import { eventually } from './helpers/wait.ts';

/** Long enough to look at the server while it drains; short enough for a test. */
const DRAIN_MS = 2_000;

/** A GET over a connection of its own, whose headers (Connection among them) fetch would hide. */
async function rawGet(url: string): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  const [response] = (await once(get(url, { agent: false }), 'response')) as [IncomingMessage];
  let body = '';
  for await (const chunk of response) body += chunk;
  return { status: response.statusCode ?? 0, headers: response.headers, body };
}

describe('SIGTERM: drain, then stop', () => {
  let storage: ServerStorage;
  const started: ServerProcess[] = [];
  const start = async () => {
    const server = await startServer({ ...storage.env, SHUTDOWN_DRAIN_MS: String(DRAIN_MS) });
    started.push(server);
    return server;
  };

  before(async () => {
    storage = await serverStorage();
  });
  after(async () => {
    for (const server of started) await server.kill();
    await storage?.release();
  });

  it('answers /readyz 503 at once, keeps serving, finishes a request in flight, tells streams to reconnect; they resume from Last-Event-ID', async () => {
    const server = await start();
    const api = client(server.url);
    const [author, reader] = await Promise.all([signUp(api), signUp(api)]);
    await follow(api, reader, author);
    const stream = await openStream(server.url, { token: reader.accessToken });
    assert.equal(stream.status, 200, stream.text());
    const seen = await publish(api, author, 'before the restart');
    await stream.next((event) => event.event === 'post' && JSON.parse(event.data).id === seen.id);

    // A request whose body is still arriving when the signal comes.
    const inFlight = request(`${server.url}/v1/memos`, {
      method: 'POST',
      headers: { authorization: `Bearer ${author.accessToken}`, 'content-type': 'application/json' },
    });
    const answered = once(inFlight, 'response');
    inFlight.write('{"text":"written while draining');
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');

    const readiness = await eventually(async () => {
      const answer = await rawGet(`${server.url}/readyz`);
      assert.equal(answer.status, 503, answer.body);
      return answer;
    });
    assert.deepEqual(JSON.parse(readiness.body), { status: 'shutting_down', checks: {} });
    assert.equal(readiness.headers.connection, 'close', 'a balancer does not keep this connection');
    // Still serving while balancers notice, each answer closing its connection.
    const ping = await rawGet(`${server.url}/ping`);
    assert.equal(ping.status, 200);
    assert.equal(ping.headers.connection, 'close');
    assert.ok(Date.now() - signalledAt < DRAIN_MS, 'all of that within the drain');
    assert.equal(stream.events.filter((event) => event.event === 'reconnect').length, 0, 'streams stay open while draining');

    inFlight.end(' and answered"}');
    const [response] = (await answered) as [IncomingMessage];
    assert.equal(response.statusCode, 201);
    response.resume();

    const notice = await stream.next((event) => event.event === 'reconnect', DRAIN_MS + 5_000);
    assert.ok(notice.id === undefined, 'the notice leaves Last-Event-ID at the last event');
    assert.match(stream.text(), /retry: \d+\nevent: reconnect\n/);
    await stream.ended;
    const lastEventId = stream.lastEventId;
    assert.notEqual(lastEventId, '');
    assert.equal(await exitCode(server), 0, server.output());
    assert.ok(Date.now() - signalledAt >= DRAIN_MS, 'it served for the whole drain');

    // Back on another instance (services: the backlog is in Redis) or the same one restarted.
    const next = await start();
    const nextApi = client(next.url);
    const missed = await publish(nextApi, author, 'while the stream was away');
    const resumed = await openStream(next.url, { token: reader.accessToken, lastEventId });
    try {
      assert.equal(resumed.status, 200, resumed.text());
      if (servicesDatabaseUrl !== undefined) {
        const replayed = await resumed.next((event) => event.event === 'post' && JSON.parse(event.data).id === missed.id);
        assert.ok(replayed.id !== undefined);
        assert.equal(resumed.events.filter((event) => event.event === 'post' && JSON.parse(event.data).id === seen.id).length, 0, 'nothing it had is sent again');
      } else {
        // One process, its backlog in memory: the restart forgot it, and the client is told to fetch again.
        await resumed.next((event) => event.event === 'reset');
      }
    } finally {
      resumed.close();
    }
    const memos = await nextApi.get('/v1/memos', { token: author.accessToken });
    assert.deepEqual(memos.body.items.map((memo: { text: string }) => memo.text), ['written while draining and answered']);
    await next.stop();
  });

  it('skips the drain on SIGINT (Ctrl-C at a terminal)', async () => {
    const server = await start();
    const signalledAt = Date.now();
    server.child.kill('SIGINT');
    assert.equal(await exitCode(server), 0, server.output());
    assert.ok(Date.now() - signalledAt < DRAIN_MS, `exited ${Date.now() - signalledAt} ms after SIGINT`);
  });
});

async function exitCode(server: ServerProcess): Promise<number | null> {
  if (server.child.exitCode !== null) return server.child.exitCode;
  const [code] = (await once(server.child, 'exit')) as [number | null];
  return code;
}
