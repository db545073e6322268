import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataDirInUseError, lockAddress, lockDataDir, type LockHolder } from '../../src/platform/data-dir-lock.ts';

const root = mkdtempSync(join(tmpdir(), 'plaza-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `data-${++dirs}`);
const holder = (command: string): LockHolder => ({ pid: process.pid, command, since: new Date().toISOString() });

async function refusal(dataDir: string, platform: NodeJS.Platform): Promise<DataDirInUseError> {
  try {
    await lockDataDir(dataDir, holder('second'), platform);
  } catch (error) {
    if (error instanceof DataDirInUseError) return error;
    throw error;
  }
  return assert.fail('the second lock was granted');
}

async function listenOn(path: string, onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer(onConnection).listen(path);
  await once(server, 'listening');
  return server;
}

// The socket file is what macOS and the BSDs use; it works the same way on Linux.
for (const platform of ['linux', 'darwin'] as const) {
  describe(`the data-directory lock (${platform === 'linux' ? 'abstract socket' : 'socket file'})`, { skip: platform === 'linux' && process.platform !== 'linux' }, () => {
    it('is held by one holder at a time, who is named to the others, and is free again once released', async () => {
      const dataDir = freshDir();
      const first = await lockDataDir(dataDir, holder('plaza serve'), platform);
      const refused = await refusal(dataDir, platform);
      assert.equal(refused.holder?.pid, process.pid);
      assert.equal(refused.holder?.command, 'plaza serve');
      assert.match(refused.message, new RegExp(`^DATA_DIR ${dataDir} is in use by another Plaza process \\(pid ${process.pid}, "plaza serve", since `));
      await first.release();
      await (await lockDataDir(dataDir, holder('plaza migrate'), platform)).release();
    });

    it('names the same lock through a symbolic link to the directory', async () => {
      const dataDir = freshDir();
      mkdirSync(dataDir);
      const link = `${dataDir}-link`;
      symlinkSync(dataDir, link);
      const lock = await lockDataDir(dataDir, holder('plaza serve'), platform);
      try {
        assert.equal((await refusal(link, platform)).holder?.command, 'plaza serve');
      } finally {
        await lock.release();
      }
    });

    it('still refuses when the holder does not say who it is, or says something malformed', async () => {
      const dataDir = freshDir();
      mkdirSync(dataDir);
      for (const answer of [undefined, 'not json', JSON.stringify({ pid: 1, command: 'evil\u001b[2J', since: new Date().toISOString() })]) {
        const squatter = await listenOn(lockAddress(dataDir, platform).path, (socket) => {
          if (answer === undefined) return; // holds the connection open, answering nothing
          socket.end(answer);
        });
        try {
          const started = Date.now();
          const refused = await refusal(dataDir, platform);
          assert.equal(refused.holder, undefined);
          assert.match(refused.message, /in use by another process \(it did not say which\): stop it first, or set DATA_DIR/);
          assert.ok(Date.now() - started < 5_000, 'gives up waiting for an answer');
        } finally {
          await new Promise((resolve) => squatter.close(resolve));
        }
      }
    });

    it('is free once its holder is killed', async () => {
      const dataDir = freshDir();
      mkdirSync(dataDir);
      const { path } = lockAddress(dataDir, platform);
      const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('listening'))`]);
      await once(child.stdout, 'data');
      child.kill('SIGKILL');
      await once(child, 'exit');
      if (platform === 'darwin') assert.ok(existsSync(path), 'a dead holder leaves its socket file behind');
      await (await lockDataDir(dataDir, holder('plaza serve'), platform)).release();
    });
  });
}

describe('the socket file', () => {
  it('is in the data directory, or in the temporary directory when that path would be too long for a socket', () => {
    const near = freshDir();
    mkdirSync(near);
    assert.equal(lockAddress(near, 'darwin').path, join(near, '.plaza.lock'));
    const deep = join(root, 'd'.repeat(120));
    mkdirSync(deep);
    assert.match(lockAddress(deep, 'darwin').path, new RegExp(`^${tmpdir()}/plaza-data-dir-[0-9a-f]{32}\\.lock$`));
  });
});
