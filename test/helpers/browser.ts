import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort } from '../../scripts/services/common.ts';
import { eventually } from './wait.ts';

/**
 * What the browser tests share: Debian's chromium (`.ci/run` installs it; playwright-core downloads
 * none), a Plaza started as a user starts it, and an accessibility check with axe-core.
 */

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox'];

/** A reason to skip the file on a machine without chromium; never under CI, where a missing browser fails. */
export function skipWithoutChromium(): string | false {
  return !existsSync(CHROMIUM) && process.env.CI === undefined ? `no ${CHROMIUM} (apt-get install chromium)` : false;
}

/**
 * Debian's chromium, launched once this test file's turn has come: browser test files run one at a
 * time (a lock directory beside the other runs' temporary files), while the rest of the suite runs
 * beside them. Two at once on a two-core machine starved each other's pages past their timeouts.
 * Closing the browser gives the turn up.
 */
export async function launchChromium(args: readonly string[] = []): Promise<Browser> {
  const release = await browserTurn();
  try {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...args] });
    browser.on('disconnected', release);
    return browser;
  } catch (error) {
    release();
    throw error;
  }
}

const TURN = join(tmpdir(), `plaza-browser-turn-${createHash('sha256').update(new URL('../..', import.meta.url).pathname).digest('hex').slice(0, 12)}`);
let turnsHeld = 0;

async function browserTurn(): Promise<() => void> {
  if (turnsHeld === 0) {
    for (;;) {
      try {
        mkdirSync(TURN);
        writeFileSync(join(TURN, 'pid'), String(process.pid));
        break;
      } catch {
        if (!holderAlive()) rmSync(TURN, { recursive: true, force: true });
        else await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }
  turnsHeld += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    turnsHeld -= 1;
    if (turnsHeld === 0) rmSync(TURN, { recursive: true, force: true });
  };
}

/** Whether the process holding the turn still runs (a killed test run leaves its lock behind). */
function holderAlive(): boolean {
  try {
    process.kill(Number(readFileSync(join(TURN, 'pid'), 'utf8')), 0);
    return true;
  } catch (error) {
    // No pid written yet: its holder is between the two steps.
    return (error as NodeJS.ErrnoException).code === 'EPERM' || (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

export type PlazaProcess = { readonly url: string; output(): string; stop(): Promise<void> };

/**
 * `node src/main.ts serve` (what `npm start` runs) with only what a user's shell would have, on the
 * embedded profile, its own DATA_DIR and a free loopback port (or `port`, when PUBLIC_URL must be
 * known first), plus `env` (or what `env` makes of the URL Plaza will have, for settings naming Plaza itself).
 */
export async function startPlaza(env: Record<string, string> | ((url: string) => Record<string, string>) = {}, port?: number): Promise<PlazaProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'plaza-browser-'));
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, ['src/main.ts', 'serve'], {
    cwd: new URL('../..', import.meta.url),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...(typeof env === 'function' ? env(url) : env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  server.stdout.on('data', (chunk) => (output += chunk));
  server.stderr.on('data', (chunk) => (output += chunk));
  const stop = async () => {
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await eventually(async () => assert.equal((await fetch(`${url}/healthz`)).status, 200), 60_000);
  } catch (error) {
    await stop();
    throw new Error(`Plaza did not start: ${output}`, { cause: error });
  }
  return { url, output: () => output, stop };
}

const AXE = readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

/**
 * axe-core's serious and critical violations on the page as it is now, each as "rule: targets".
 * axe goes in through the DevTools protocol: `page.addScriptTag({ content })` adds an inline script,
 * which the client's policy refuses (as it should), while an evaluation from the debugger is no
 * script of the page's.
 */
export async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
}
