import { createHash } from 'node:crypto';
import { mkdirSync, statSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the process holding a data directory tells one that asks. */
export type LockHolder = Readonly<{ pid: number; command: string; since: string }>;

export type DataDirLock = { release(): Promise<void> };

export class DataDirInUseError extends Error {
  readonly holder: LockHolder | undefined;
  constructor(dataDir: string, holder: LockHolder | undefined) {
    const who = holder === undefined
      ? 'another process (it did not say which)'
      : `another Plaza process (pid ${holder.pid}, "${holder.command}", since ${holder.since})`;
    super(`DATA_DIR ${dataDir} is in use by ${who}: stop it first, or set DATA_DIR to another directory.`);
    this.name = 'DataDirInUseError';
    this.holder = holder;
  }
}

/** How long a holder has to say who it is; one busy starting up may not answer in time. */
const ASK_TIMEOUT_MS = 2_000;
const MAX_ANSWER_BYTES = 1024;
/** Below every platform's limit on a socket file's path (104 bytes on macOS). */
const MAX_SOCKET_PATH_BYTES = 100;
const ATTEMPTS = 3;

/**
 * Holds `dataDir` for the rest of the process's life, or throws `DataDirInUseError` naming the
 * process that holds it. The lock is a listening local socket, which the kernel closes however the
 * process ends (SIGKILL too), and whose holder answers anyone connecting with `holder`.
 */
export async function lockDataDir(dataDir: string, holder: LockHolder, platform = process.platform): Promise<DataDirLock> {
  mkdirSync(dataDir, { recursive: true });
  const address = lockAddress(dataDir, platform);
  for (let attempt = 1; ; attempt++) {
    const server = createServer((socket) => {
      socket.on('error', () => {}); // the asker hung up first
      socket.end(JSON.stringify(holder));
    });
    const failure = await listen(server, address.path);
    if (failure === undefined) {
      server.unref(); // the lock never keeps the process alive by itself
      return { release: () => new Promise((resolve) => server.close(() => resolve())) };
    }
    if (failure.code !== 'EADDRINUSE') throw failure;
    const answer = await askHolder(address.path);
    if (answer !== 'gone' || attempt === ATTEMPTS) throw new DataDirInUseError(dataDir, answer === 'gone' || answer === 'silent' ? undefined : answer);
    // Nobody listens on it: a socket file left by a process that died. Holding it is first come, first served.
    if (address.leftByTheDead) removeIfPresent(address.path);
  }
}

type LockAddress = { path: string; leftByTheDead: boolean };

/**
 * Linux: an abstract socket, named after the directory's device and inode (so every path to it,
 * symlinks and bind mounts included, names the same lock); it exists only while a process holds it.
 * Windows: a named pipe, likewise. Elsewhere (macOS, BSD): a socket file in the directory, which
 * outlives its process; one that nobody listens on is stale and replaced.
 */
export function lockAddress(dataDir: string, platform: NodeJS.Platform): LockAddress {
  const { dev, ino } = statSync(dataDir, { bigint: true });
  const name = `plaza-data-dir-${createHash('sha256').update(`${dev}:${ino}`).digest('hex').slice(0, 32)}`;
  if (platform === 'linux') return { path: `\0${name}`, leftByTheDead: false };
  if (platform === 'win32') return { path: `\\\\.\\pipe\\${name}`, leftByTheDead: false };
  const inDir = join(dataDir, '.plaza.lock');
  return { path: Buffer.byteLength(inDir) <= MAX_SOCKET_PATH_BYTES ? inDir : join(tmpdir(), `${name}.lock`), leftByTheDead: true };
}

function listen(server: Server, path: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    server.once('error', resolve);
    server.listen(path, () => {
      server.off('error', resolve);
      resolve(undefined);
    });
  });
}

/** `gone` when nothing listens there any more, `silent` when the holder gave no usable answer. */
function askHolder(path: string): Promise<LockHolder | 'gone' | 'silent'> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = createConnection(path);
    socket.setEncoding('utf8');
    socket.setTimeout(ASK_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (answer.length > MAX_ANSWER_BYTES) socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'ECONNREFUSED' || error.code === 'ENOENT' ? 'gone' : 'silent');
    });
    socket.on('close', () => resolve(parseHolder(answer) ?? 'silent'));
  });
}

/** Whatever listens on the address may be any local program: only well-formed, printable facts are repeated. */
function parseHolder(answer: string): LockHolder | undefined {
  try {
    const { pid, command, since } = JSON.parse(answer) as Record<string, unknown>;
    if (!Number.isSafeInteger(pid) || (pid as number) <= 0 || typeof command !== 'string' || typeof since !== 'string') return undefined;
    if (!/^[\x20-\x7e]{1,200}$/.test(command) || Number.isNaN(Date.parse(since))) return undefined;
    return { pid: pid as number, command, since: new Date(since).toISOString() };
  } catch {
    return undefined;
  }
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
