import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { lockDataDir } from '../src/platform/data-dir-lock.ts';
import { createTestDatabase, servicesDatabaseUrl } from './helpers/database.ts';
import { client } from './helpers/http.ts';
import { eventually } from './helpers/wait.ts';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const SCRIPT = '/usr/bin/script';
const dataDir = mkdtempSync(join(tmpdir(), 'plaza-cli-'));
const otherDataDirs: string[] = [];
after(() => {
  for (const dir of [dataDir, ...otherDataDirs]) rmSync(dir, { recursive: true, force: true });
});

/** A DATA_DIR of its own, for a test whose server must not meet the others'. */
function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'plaza-cli-'));
  otherDataDirs.push(dir);
  return dir;
}

const baseEnv = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', SHUTDOWN_DRAIN_MS: '0' };

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...baseEnv, ...env } });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return { child, output: () => output };
}

async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const [code] = await once(child, 'exit');
  return code as number | null;
}

function linesOf(output: string): string[] {
  return output.trim().split('\n');
}

/** Starts `plaza serve` and resolves with its base URL once it listens. */
async function serve(env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const started = run(['serve'], env);
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
  it('says a command is unknown, then prints the usage', async () => {
    for (const name of ['frobnicate', 'constructor']) {
      const { child, output } = run([name]);
      assert.equal(await exitOf(child), 2);
      assert.match(output(), new RegExp(`^Unknown command "${name}"\\.\nUsage: plaza <command>`));
    }
  });

  it('refuses an unknown option with the usage, not a stack trace', async () => {
    const { child, output } = run(['serve', '--port', '3000']);
    assert.equal(await exitOf(child), 2);
    assert.match(output(), /^Unknown option '--port'.*\n\nUsage: plaza <command>/s);
    assert.doesNotMatch(output(), /\bat .*:\d+:\d+/);
  });

  it('serves from the process started, under its memory settings, keeping the ones given', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
    const { child, url } = await serve({ DATA_DIR: freshDataDir(), MALLOC_ARENA_MAX: '4' });
    try {
      assert.equal((await fetch(`${url}/readyz`)).status, 200);
      const environment = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
      assert.ok(environment.includes('MALLOC_ARENA_MAX=4'), 'a variable given wins');
      assert.ok(environment.includes(`MALLOC_MMAP_THRESHOLD_=${1024 * 1024}`), environment.join(' '));
      assert.ok(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').includes('--max-semi-space-size=2'));
    } finally {
      child.kill('SIGTERM');
      await exitOf(child);
    }
  });

  it('refuses --force on any command but demo', async () => {
    const { child, output } = run(['migrate', '--force']);
    assert.equal(await exitOf(child), 2);
    assert.match(output(), /^--force belongs to demo; "migrate" takes no options\.\n\nUsage: plaza <command>/s);
  });

  it('ends on a busy port with one line naming the port and PORT', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as import('node:net').AddressInfo).port;
    try {
      const { child, output } = run(['serve'], { DATA_DIR: freshDataDir(), PORT: String(port), LOG_LEVEL: 'warn' });
      assert.equal(await exitOf(child), 1);
      assert.deepEqual(linesOf(output()), [
        `Port ${port} is already in use (EADDRINUSE) on 127.0.0.1; stop the other server or set PORT to a free port (PORT=0 picks one).`,
      ]);
    } finally {
      taken.close();
    }
  });

  it('ends on a HOST that is not this machine\'s with one line naming HOST', async () => {
    // 192.0.2.0/24 is reserved for documentation: no machine has it.
    const { child, output } = run(['serve'], { DATA_DIR: freshDataDir(), HOST: '192.0.2.1', LOG_LEVEL: 'warn' });
    assert.equal(await exitOf(child), 1);
    assert.deepEqual(linesOf(output()), [
      'HOST 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL); set HOST=127.0.0.1, or HOST=0.0.0.0 for every address.',
    ]);
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
    // Once the signal is handled (a loaded machine may take a moment), no new connection gets in.
    await eventually(() => assert.rejects(fetch(`${server.url}/ping`), 'no new connections while draining'), 5000);
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

describe('one process per data directory', () => {
  it('refuses a second serve and a migrate on a DATA_DIR in use, naming the holder; a SIGKILL frees it', async () => {
    const dir = freshDataDir();
    const first = await serve({ DATA_DIR: dir });
    try {
      for (const command of ['serve', 'migrate']) {
        const second = run([command], { DATA_DIR: dir });
        assert.equal(await exitOf(second.child), 1);
        const [line, ...more] = linesOf(second.output());
        assert.deepEqual(more, [], 'one line');
        const match = /^DATA_DIR (.+) is in use by another Plaza process \(pid (\d+), "plaza serve", since (\S+)\): stop it first, or set DATA_DIR to another directory\.$/.exec(line ?? '');
        assert.ok(match, line);
        assert.equal(match[1], dir);
        assert.equal(Number(match[2]), first.child.pid);
        assert.ok(Date.now() - Date.parse(match[3] ?? '') < 60_000, `since ${match[3]}`);
      }
      assert.equal((await fetch(`${first.url}/readyz`)).status, 200, 'the holder goes on undisturbed');

      first.child.kill('SIGKILL');
      await exitOf(first.child);
      const next = await serve({ DATA_DIR: dir });
      next.child.kill('SIGTERM');
      assert.equal(await exitOf(next.child), 0, next.output());
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
    }
  });

  it('holds nothing on PostgreSQL, where instances may share a DATA_DIR', { skip: servicesDatabaseUrl === undefined && 'embedded profile' }, async () => {
    const database = await createTestDatabase(servicesDatabaseUrl ?? '');
    const env = { DATA_DIR: freshDataDir(), DATABASE_URL: database.url, JWT_SECRET: 'x'.repeat(32) };
    const servers = [await serve(env), await serve(env)];
    try {
      for (const server of servers) assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    } finally {
      for (const server of servers) server.child.kill('SIGTERM');
      for (const server of servers) await exitOf(server.child);
      await database.drop();
    }
  });
});

describe('the start-up summary and the log formats', () => {
  /** Serves with `env` until the summary is out, then stops, and returns what it wrote and its URL. */
  async function summaryOf(env: Record<string, string>, request = '/ping') {
    const server = await serve(env);
    try {
      await fetch(`${server.url}${request}`);
      await eventually(async () => assert.match(server.output(), /request completed/));
      return { url: server.url, output: server.output() };
    } finally {
      server.child.kill('SIGTERM');
      await exitOf(server.child);
    }
  }

  it('LOG_FORMAT=json: JSON lines, one of them naming the profile, storage, queue, ffmpeg and URLs', async () => {
    const dir = freshDataDir();
    const { url, output } = await summaryOf({ DATA_DIR: dir, LOG_FORMAT: 'json' });
    const lines = linesOf(output).map((line) => JSON.parse(line));
    const summary = lines.find((line) => line.docs !== undefined);
    assert.ok(summary, output);
    assert.match(summary.msg, new RegExp(`^Plaza \\d+\\.\\d+\\.\\d+\\S* is listening at ${url}; API reference at ${url}/docs$`));
    assert.equal(summary.database, `PGlite (embedded) in ${join(dir, 'db')}`);
    assert.equal(summary.storage, `files in ${join(dir, 'blobs')}`);
    assert.equal(summary.queue, 'in-process');
    assert.match(summary.ffmpeg, /^\S+ \(\/.*ffmpeg\)$/, 'the version found, and where');
    assert.equal(summary.url, url);
    assert.equal(summary.docs, `${url}/docs`);
  });

  it('LOG_FORMAT=pretty: human lines, the summary one field a line, credentials still redacted', async () => {
    const dir = freshDataDir();
    const { url, output } = await summaryOf({ DATA_DIR: dir, LOG_FORMAT: 'pretty', FFMPEG_PATH: '/nonexistent' }, '/ping?access_token=hunter2-in-a-link');
    const lines = linesOf(output);
    assert.ok(lines.every((line) => !line.startsWith('{')), output);
    const summaryAt = lines.findIndex((line) => line.includes(`INFO: Plaza `));
    assert.match(lines[summaryAt] ?? '', new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] INFO: Plaza \\S+ is listening at ${url}; API reference at ${url}/docs$`));
    assert.deepEqual(lines.slice(summaryAt + 1, summaryAt + 8), [
      `    database: "PGlite (embedded) in ${join(dir, 'db')}"`,
      `    storage: "files in ${join(dir, 'blobs')}"`,
      '    queue: "in-process"',
      '    background: "this process"',
      '    ffmpeg: "none"',
      `    url: "${url}"`,
      `    docs: "${url}/docs"`,
    ]);
    assert.match(output, /INFO: GET \/ping\?access_token=%5Bredacted%5D incoming request/);
    assert.match(output, /INFO: 200 request completed \(\d+\.\d ms\)/);
    assert.doesNotMatch(output, /hunter2/);
  });

  it('LOG_FORMAT unset: JSON lines into a pipe, human ones in colour on a terminal', { skip: !existsSync(SCRIPT) && `no ${SCRIPT} (util-linux) for a terminal` }, async () => {
    const piped = await summaryOf({ DATA_DIR: freshDataDir() });
    assert.ok(linesOf(piped.output).every((line) => typeof JSON.parse(line) === 'object'), piped.output);

    const dir = freshDataDir();
    // script(1) runs the server on a pseudo-terminal of its own.
    const onTerminal = spawn(SCRIPT, ['-qefc', `${process.execPath} ${MAIN} serve`, '/dev/null'], { env: { ...baseEnv, DATA_DIR: dir, TERM: 'xterm-256color' } });
    let output = '';
    onTerminal.stdout.on('data', (chunk) => (output += chunk));
    try {
      const uncoloured = () => output.replace(/\x1b\[\d+m/g, '');
      await eventually(async () => assert.match(uncoloured(), /docs: /), 30_000);
      assert.notEqual(uncoloured(), output, 'coloured');
      assert.match(uncoloured(), /INFO: Plaza \S+ is listening at http:\/\/127\.0\.0\.1:\d+; API reference at/);
    } finally {
      onTerminal.kill('SIGTERM');
      await exitOf(onTerminal);
    }
    // The server on the terminal ended with it: its DATA_DIR is free.
    await (await eventually(() => lockDataDir(dir, { pid: process.pid, command: 'test', since: new Date().toISOString() }), 10_000)).release();
  });

  it('names the PostgreSQL server, database and schema, never the password', { skip: servicesDatabaseUrl === undefined && 'embedded profile' }, async () => {
    const database = await createTestDatabase(servicesDatabaseUrl ?? '');
    const url = new URL(database.url);
    // Trust authentication ignores a password; one the server checks is kept as it is.
    if (url.password === '') url.password = 'never-log-this-password';
    try {
      const env = { DATA_DIR: freshDataDir(), DATABASE_URL: url.toString(), DATABASE_SCHEMA: 'summary_test', JWT_SECRET: 'x'.repeat(32), LOG_FORMAT: 'json' };
      const { output } = await summaryOf(env);
      assert.ok(!output.includes(decodeURIComponent(url.password)), 'the password is not in the output');
      const summary = linesOf(output).map((line) => JSON.parse(line)).find((line) => line.docs !== undefined);
      assert.equal(summary.database, `PostgreSQL at ${url.hostname}:${url.port || 5432}, database ${url.pathname.slice(1)}, schema summary_test`);
    } finally {
      await database.drop();
    }
  });
});
