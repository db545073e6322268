import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { client } from './helpers/http.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'plaza-cli-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const baseEnv = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info' };

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...baseEnv, ...env } });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return { child, output: () => output };
}

async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = await once(child, 'exit');
  return code as number | null;
}

/** Starts `plaza serve` and resolves with its base URL once it listens. */
async function serve(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const started = run(['serve']);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listen line in:\n${started.output()}`)), 30_000);
    started.child.stdout?.on('data', () => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(started.output());
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    started.child.once('exit', () => reject(new Error(`exited early:\n${started.output()}`)));
  });
  return { ...started, url };
}

describe('plaza command line', () => {
  it('prints usage for an unknown command', async () => {
    const { child, output } = run(['frobnicate']);
    assert.equal(await exitOf(child), 2);
    assert.match(output(), /Usage: plaza <command>/);
  });

  it('refuses to start on bad configuration, naming the variable', async () => {
    const { child, output } = run(['serve'], { PORT: 'http', LOG_LEVEL: 'chatty' });
    assert.equal(await exitOf(child), 1);
    assert.match(output(), /PORT must be an integer/);
    assert.match(output(), /LOG_LEVEL must be one of/);
    assert.doesNotMatch(output(), /\bat .*\.ts:\d+/, 'a clear message, not a stack trace');
  });

  it('migrates, and says so when there is nothing left to do', async () => {
    const first = run(['migrate']);
    assert.equal(await exitOf(first.child), 0, first.output());
    assert.match(first.output(), /success: 0001_accounts/);
    const second = run(['migrate']);
    assert.equal(await exitOf(second.child), 0);
    assert.match(second.output(), /up to date/);
  });

  it('finishes requests in flight on SIGTERM, then exits; a restart keeps data and sessions', async () => {
    const server = await serve();
    const api = client(server.url);
    const session = (await api.post('/v1/auth/signup', { email: 'cli@example.test', password: 'password123', name: 'Cli' })).body;

    // A request whose body is still arriving when the signal comes.
    const inFlight = request(`${server.url}/v1/memos`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' },
    });
    const answered = once(inFlight, 'response');
    inFlight.write('{"text":"written during');
    await new Promise((resolve) => setTimeout(resolve, 200));
    server.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await assert.rejects(fetch(`${server.url}/ping`), 'no new connections while draining');
    inFlight.end(' shutdown"}');
    const [response] = (await answered) as [import('node:http').IncomingMessage];
    assert.equal(response.statusCode, 201);
    response.resume();
    assert.equal(await exitOf(server.child), 0, server.output());
    assert.match(server.output(), /shutting down/);

    const restarted = await serve();
    try {
      const memos = await client(restarted.url).get('/v1/memos', { token: session.accessToken });
      assert.equal(memos.status, 200, 'the access token survives a restart');
      assert.deepEqual(memos.body.items.map((memo: { text: string }) => memo.text), ['written during shutdown']);
    } finally {
      restarted.child.kill('SIGTERM');
      assert.equal(await exitOf(restarted.child), 0);
    }
  });
});
