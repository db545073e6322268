import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WEB_CLIENT_DIST } from './web-client.ts';

/**
 * Building the web client (web/) with Vite, when `plaza serve` starts and its build is missing or
 * older than its sources. The build carries a stamp: a hash of every file under web/ (but the build
 * and node_modules) and of the lock file, which pins Vite and every library in the bundle. A start
 * whose sources hash the same reuses the build; anything else builds again, into a fresh directory
 * that then replaces the old one whole, so a server reading it (or a second start racing this one)
 * never sees half a build.
 */

const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const LOCK_FILE = fileURLToPath(new URL('../../package-lock.json', import.meta.url));
const STAMP = '.plaza-build.json';
const SKIPPED = new Set(['dist', 'node_modules']);

export type BuildOutcome = { built: false } | { built: true; reason: 'missing' | 'stale'; ms: number };

/** Builds the client when web/dist is missing or stale; a no-op where web/ has no sources (an image holding only the build). */
export async function ensureWebClientBuilt(): Promise<BuildOutcome> {
  if (!existsSync(join(WEB_DIR, 'index.html'))) return { built: false };
  const sources = sourceHash();
  const stamped = builtFrom();
  if (stamped === sources) return { built: false };
  const started = performance.now();
  await buildWebClient(sources);
  return { built: true, reason: stamped === undefined ? 'missing' : 'stale', ms: Math.round(performance.now() - started) };
}

/** Builds the client into web/dist, whatever is there now. */
export async function buildWebClient(sources = sourceHash()): Promise<void> {
  const outDir = join(WEB_DIR, `.dist-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await runVite(outDir);
    writeFileSync(join(outDir, STAMP), JSON.stringify({ sources }));
    // Another start may have finished the same build meanwhile: then it stays.
    if (builtFrom() === sources) return;
    const old = `${outDir}-old`;
    moveIfThere(WEB_CLIENT_DIST, old);
    try {
      renameSync(outDir, WEB_CLIENT_DIST);
    } catch (error) {
      // Another start put its build there between the two renames: the same sources, or an error.
      if (builtFrom() !== sources) throw error;
    }
    rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

function builtFrom(): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(WEB_CLIENT_DIST, STAMP), 'utf8')) as { sources?: string }).sources;
  } catch {
    return undefined;
  }
}

/** SHA-256 over the path and bytes of every source file under web/, in a fixed order, and the lock file. */
export function sourceHash(): string {
  const hash = createHash('sha256');
  const files = readdirSync(WEB_DIR, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(WEB_DIR, join(entry.parentPath, entry.name)))
    .filter((path) => !SKIPPED.has(path.split(/[\\/]/)[0] ?? '') && !path.startsWith('.dist-'))
    .sort();
  for (const path of files) hash.update(`${path}\0`).update(readFileSync(join(WEB_DIR, path))).update('\0');
  return hash.update(readFileSync(LOCK_FILE)).digest('hex');
}

async function runVite(outDir: string): Promise<void> {
  // Vite refuses a second build of the project while one runs; each build here has a directory of
  // its own and replaces web/dist whole (see buildWebClient), so racing starts may both build.
  const child = spawn(process.execPath, [viteBin(), 'build', '--bypass-lock', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: WEB_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`vite build failed (exit ${code}): ${output.trim()}`);
}

/** Vite's command, as the web workspace resolves it (npm ci installs it with the workspace's dependencies). */
function viteBin(): string {
  const require = createRequire(join(WEB_DIR, 'package.json'));
  let manifest: string;
  try {
    manifest = require.resolve('vite/package.json');
  } catch {
    throw new Error('vite is not installed: run `npm ci` at the repository root (it installs the web workspace\'s dependencies, vite among them)');
  }
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> };
  return join(dirname(manifest), bin.vite ?? 'bin/vite.js');
}

function moveIfThere(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
