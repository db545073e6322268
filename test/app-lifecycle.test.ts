import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp, createDeps } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';

/**
 * An app built but not listening, as a script or a test using `app.inject` has it: what its start-up
 * leaves running, and what injected requests leave behind. Embedded profile (PGlite, local files),
 * where the uploads directory is the app's own.
 */

async function withApp<T>(env: Record<string, string>, use: (app: FastifyInstance) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'plaza-test-'));
  try {
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', JWT_SECRET: randomBytes(32).toString('hex'), ...env });
    const app = await buildApp(config, await createDeps(config));
    try {
      return await use(app);
    } finally {
      await app.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

it('has done all the file-system work it started by the time it is ready', async () => {
  // Every file-system request made from here, with where it was made; gone once its answer is handled.
  const unfinished = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type.startsWith('FSREQ')) unfinished.set(id, `${type}\n${new Error().stack?.split('\n').slice(2, 8).join('\n')}`);
    },
    before(id) {
      unfinished.delete(id);
    },
  });
  hook.enable();
  let atReady: string[];
  try {
    atReady = await withApp({}, async (app) => {
      await app.ready();
      return [...unfinished.values()];
    });
  } finally {
    hook.disable();
  }
  // Work nothing waits for can still be under way when the app closes and its data directory goes.
  assert.deepEqual(atReady, [], 'file-system requests still running when the app is ready');
});

it('serves app.inject requests, and leaves nothing behind once closed', async () => {
  const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
  const timersBefore = timers();
  await withApp({ LINGER_TIMEOUT_MS: '20000' }, async (app) => {
    assert.equal((await app.inject({ method: 'GET', url: '/ping' })).body, 'pong');
    // Answered before its body is read, which never ends: over a connection, the lingering close.
    const early = await app.inject({
      method: 'POST',
      url: '/v1/media',
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.alloc(1_000),
      simulate: { end: false, split: false, error: false, close: false },
    });
    assert.equal(early.statusCode, 401, early.body);
    const tooLarge = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'a'.repeat(300_000), password: 'x' } });
    assert.equal(tooLarge.statusCode, 413, tooLarge.body);
  });
  // A lingering close's deadline would keep a script that used inject alive, and then destroy a socket
  // that is not there.
  assert.equal(timers(), timersBefore, 'timers left running by the closed app');
});
