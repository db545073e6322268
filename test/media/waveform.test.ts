import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeakCollector } from '../../src/modules/media/processing/waveform.ts';

/** Signed 16-bit little-endian samples. */
function pcm(samples: number[]): Buffer {
  const bytes = Buffer.alloc(samples.length * 2);
  samples.forEach((sample, index) => bytes.writeInt16LE(sample, index * 2));
  return bytes;
}

test('samples split across chunks at odd bytes are read whole', () => {
  const bytes = pcm([-32768, 0, 16384, 0]);
  const peaks = new PeakCollector();
  for (let at = 0; at < bytes.length; at += 3) peaks.add(bytes.subarray(at, at + 3));
  assert.equal(peaks.sampleCount, 4);
  const points = peaks.peaks();
  assert.equal(points.length, 100);
  assert.equal(points[0], 1);
  assert.equal(points[99], 0);
  assert.ok(points.includes(0.5));
});

test('a long stream keeps its shape after its blocks are merged', () => {
  const peaks = new PeakCollector();
  const quiet = pcm(Array.from({ length: 50_000 }, () => 100));
  const loud = pcm(Array.from({ length: 50_000 }, () => -20_000));
  peaks.add(quiet);
  peaks.add(loud);
  const points = peaks.peaks();
  assert.equal(peaks.sampleCount, 100_000);
  assert.ok(points.slice(0, 50).every((point) => point === 0.003));
  assert.ok(points.slice(50).every((point) => point === 0.61));
});

test('no samples give a flat line of zeros', () => {
  assert.deepEqual(new PeakCollector().peaks(), new Array(100).fill(0));
});
