import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { trimHeapWhenIdle, trimMallocHeap } from '../../src/platform/heap-trim.ts';

const MiB = 1024 * 1024;

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

describe('heap trim', () => {
  it("hands glibc's free holes back to the OS", async () => {
    // 200 MiB of small blocks from malloc, one in fifty kept: what is freed is holes between them.
    let blocks: Buffer[] | undefined = Array.from({ length: 200_000 }, (_, i) => Buffer.allocUnsafeSlow(500 + (i % 7) * 100));
    const kept = blocks.filter((_, i) => i % 50 === 0);
    blocks = undefined;
    collectGarbage();
    collectGarbage();
    const before = process.memoryUsage.rss();
    assert.equal(await trimMallocHeap(), true);
    const after = process.memoryUsage.rss();
    assert.ok(before - after > 100 * MiB, `RSS went from ${Math.round(before / MiB)} to ${Math.round(after / MiB)} MiB`);
    assert.equal(kept.length, 4000);
  });

  it('trims once after each busy spell, and never while idle', async () => {
    let trims = 0;
    const logged: object[] = [];
    const stop = trimHeapWhenIdle({
      checkMs: 100,
      busyUtilization: 0.05,
      trim: async () => ++trims > 0,
      logger: { debug: (details) => logged.push(details) },
    });
    try {
      await sleep(350);
      assert.equal(trims, 0, 'idle from the start: nothing to hand back');
      await busyFor(250);
      await sleep(350);
      assert.equal(trims, 1);
      await sleep(350);
      assert.equal(trims, 1, 'still idle: no second trim');
      await busyFor(250);
      await sleep(350);
      assert.equal(trims, 2);
      assert.equal(logged.length, 2);
      assert.deepEqual(Object.keys(logged[0]!), ['rssBeforeMiB', 'rssAfterMiB', 'ms']);
    } finally {
      stop();
    }
  });
});

/** Keeps the event loop busy (work in turns, as requests would) for `ms`. */
async function busyFor(ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const turn = performance.now() + 5;
    while (performance.now() < turn);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
