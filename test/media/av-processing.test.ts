import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Readable } from 'node:stream';
import { before, describe, test } from 'node:test';
import sharp from 'sharp';
import { processAudio } from '../../src/modules/media/processing/audio.ts';
import { MediaProcessingError } from '../../src/modules/media/processing/errors.ts';
import { findFfmpeg, INPUT_ARGS, runTool, type FfmpegTools } from '../../src/modules/media/processing/ffmpeg.ts';
import { processVideo, type ProcessedVideo } from '../../src/modules/media/processing/video.ts';
import { ffmpegSample, rotatedMp4Sample, wavSample, type FfmpegSampleName } from '../helpers/media-samples.ts';

const fromBytes = (bytes: Buffer) => Readable.from([bytes]);
let ffmpeg: FfmpegTools;

before(async () => {
  const found = await findFfmpeg(process.env);
  assert.ok(found, 'ffmpeg and ffprobe come with `npm ci` (@ffmpeg-installer/ffmpeg, @ffprobe-installer/ffprobe)');
  ffmpeg = found;
});

function assertAbout(actual: number | undefined, expected: number, tolerance = 0.05) {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= expected * tolerance, `${actual} is not about ${expected}`);
}

describe('processAudio', () => {
  const oneSecond: FfmpegSampleName[] = ['mp3', 'm4a', 'fragmentedMp4Audio', 'opus', 'webmAudio', 'flac', 'aac'];
  for (const name of oneSecond) {
    test(`${name}: duration and waveform`, async () => {
      const audio = await processAudio(fromBytes(await ffmpegSample(name)), ffmpeg);
      assertAbout(audio.durationMs, 1000);
      assert.equal(audio.waveform?.length, 100);
    });
  }

  test('a sine gives 100 peaks in 0..1 at its amplitude, not a flat line', async () => {
    const audio = await processAudio(fromBytes(wavSample(3)), ffmpeg);
    assert.equal(audio.durationMs, 3000);
    assert.equal(audio.waveform?.length, 100);
    for (const peak of audio.waveform ?? []) assert.ok(peak >= 0 && peak <= 1);
    assertAbout(Math.max(...(audio.waveform ?? [])), 16000 / 32768);
  });

  test('silence then a tone shows in the waveform', async () => {
    const silent = wavSample(1, 0);
    const tone = wavSample(1);
    const both = Buffer.concat([silent.subarray(0, 44), silent.subarray(44), tone.subarray(44)]);
    both.writeUInt32LE(both.length - 8, 4);
    both.writeUInt32LE(both.length - 44, 40);
    const { waveform = [] } = await processAudio(fromBytes(both), ffmpeg);
    assert.ok(Math.max(...waveform.slice(0, 45)) < 0.01, 'first half is silent');
    assert.ok(Math.min(...waveform.slice(55)) > 0.4, 'second half is loud');
  });

  test('a long recording is folded into 100 points too', async () => {
    const audio = await processAudio(fromBytes(wavSample(120)), ffmpeg);
    assert.equal(audio.durationMs, 120_000);
    assert.equal(audio.waveform?.length, 100);
    assert.ok(audio.waveform?.every((peak) => peak > 0.4));
  });

  test('corrupt or truncated audio is rejected with a clear error', async () => {
    const m4a = await ffmpegSample('m4a');
    await assert.rejects(processAudio(fromBytes(m4a.subarray(0, 100)), ffmpeg), MediaProcessingError);
    await assert.rejects(processAudio(fromBytes(Buffer.from('ID3 this is no audio at all')), ffmpeg), MediaProcessingError);
  });

  test('without ffmpeg: the duration the headers give, and no waveform', async () => {
    const audio = await processAudio(fromBytes(await ffmpegSample('mp3')), undefined);
    assertAbout(audio.durationMs, 1000);
    assert.equal(audio.waveform, undefined);
  });
});

/** processVideo's answer for a file that has a picture. */
async function pictureOf(source: Readable): Promise<ProcessedVideo> {
  const video = await processVideo(source, ffmpeg);
  assert.notEqual(video, 'audio-only');
  return video as ProcessedVideo;
}

describe('processVideo', () => {
  for (const name of ['mp4', 'webm', 'mov'] as const) {
    test(`${name}: duration, dimensions and a poster`, async () => {
      const video = await pictureOf(fromBytes(await ffmpegSample(name)));
      assertAbout(video.durationMs, 1000, 0.1);
      assert.deepEqual([video.width, video.height], [320, 240]);
      const poster = await sharp(video.poster?.data).metadata();
      assert.deepEqual([poster.format, poster.width, poster.height], ['jpeg', 320, 240]);
    });
  }

  test('a video recorded sideways reports its upright dimensions and poster', async () => {
    const video = await pictureOf(fromBytes(await rotatedMp4Sample()));
    assert.deepEqual([video.width, video.height], [240, 320]);
    const poster = await sharp(video.poster?.data).metadata();
    assert.deepEqual([poster.width, poster.height], [240, 320]);
  });

  test('corrupt or truncated video is rejected with a clear error', async () => {
    const mp4 = await ffmpegSample('mp4');
    await assert.rejects(processVideo(fromBytes(mp4.subarray(0, 300)), ffmpeg), MediaProcessingError);
    await assert.rejects(processVideo(fromBytes(Buffer.from('not a video')), ffmpeg), MediaProcessingError);
  });

  test('a container with sound and no picture is called audio-only', async () => {
    assert.equal(await processVideo(fromBytes(await ffmpegSample('m4a')), ffmpeg), 'audio-only');
  });

  test('without ffmpeg every field is empty', async () => {
    const video = await processVideo(fromBytes(await ffmpegSample('mp4')), undefined);
    assert.deepEqual(video, { durationMs: undefined, width: undefined, height: undefined, poster: undefined });
  });
});

describe('findFfmpeg', () => {
  test('uses the binaries npm installed, with nothing on PATH', async () => {
    const found = await findFfmpeg({ PATH: '' });
    assert.match(found?.ffmpeg ?? '', /node_modules\/@ffmpeg-installer\/.+\/ffmpeg$/);
    assert.match(found?.ffprobe ?? '', /node_modules\/@ffprobe-installer\/.+\/ffprobe$/);
  });

  test('makes an installed binary executable when npm skipped its postinstall chmod', async () => {
    await inTempDir(async (dir) => {
      const tools = { ffmpeg: join(dir, 'ffmpeg'), ffprobe: join(dir, 'ffprobe') };
      for (const path of Object.values(tools)) await writeFile(path, '#!/bin/sh\n', { mode: 0o644 });
      assert.deepEqual(await findFfmpeg({ PATH: '' }, tools), tools);
      for (const path of Object.values(tools)) assert.equal((await stat(path)).mode & 0o100, 0o100, path);
    });
  });

  test('falls back to PATH where npm had no binaries for the platform', async () => {
    await inTempDir(async (dir) => {
      await symlink(ffmpeg.ffmpeg, join(dir, 'ffmpeg'));
      await symlink(ffmpeg.ffprobe, join(dir, 'ffprobe'));
      assert.deepEqual(await findFfmpeg({ PATH: `/nonexistent${delimiter}${dir}` }, {}), { ffmpeg: join(dir, 'ffmpeg'), ffprobe: join(dir, 'ffprobe') });
    });
  });

  test('honours FFMPEG_PATH and FFPROBE_PATH', async () => {
    await inTempDir(async (dir) => {
      const tools = { ffmpeg: join(dir, 'system-ffmpeg'), ffprobe: join(dir, 'system-ffprobe') };
      await symlink(ffmpeg.ffmpeg, tools.ffmpeg);
      await symlink(ffmpeg.ffprobe, tools.ffprobe);
      assert.deepEqual(await findFfmpeg({ FFMPEG_PATH: tools.ffmpeg, FFPROBE_PATH: tools.ffprobe, PATH: '' }), tools);
    });
  });

  test('is undefined when a tool is missing, so processing leaves its fields empty', async () => {
    assert.equal(await findFfmpeg({ FFMPEG_PATH: '/nonexistent/ffmpeg', PATH: process.env.PATH }), undefined, 'an explicit path is not second-guessed');
    assert.equal(await findFfmpeg({ PATH: '' }, {}), undefined);
    assert.equal(await findFfmpeg({}, { ffmpeg: ffmpeg.ffmpeg }), undefined);
  });
});

async function inTempDir(use: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'plaza-test-'));
  try {
    await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('runTool', () => {
  test('kills a tool that outlives its timeout', async () => {
    const endless = ['-nostdin', '-f', 'lavfi', '-i', 'sine', '-f', 'null', '-'];
    const started = performance.now();
    await assert.rejects(runTool(ffmpeg.ffmpeg, endless, { timeoutMs: 300 }), (error: unknown) => {
      assert.ok(error instanceof MediaProcessingError);
      assert.match(error.message, /longer than 300 ms/);
      return true;
    });
    assert.ok(performance.now() - started < 3000);
  });

  test('will not open a playlist hidden behind an ID3 tag (which ffmpeg skips when probing)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plaza-test-'));
    try {
      const path = join(dir, 'original');
      const id3 = Buffer.from([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0]);
      await writeFile(path, Buffer.concat([id3, Buffer.from('#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nsecret.ts\n#EXT-X-ENDLIST\n')]));
      const args = [...INPUT_ARGS, '-nostdin', '-i', path, '-f', 'null', '-'];
      await assert.rejects(runTool(ffmpeg.ffmpeg, args, { timeoutMs: 5000 }), /not on whitelist/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a tool that cannot be started is not blamed on the media', async () => {
    await assert.rejects(runTool('/nonexistent/ffmpeg', [], { timeoutMs: 1000 }), (error: unknown) => {
      assert.ok(error instanceof Error && !(error instanceof MediaProcessingError));
      assert.match(error.message, /could not run/);
      return true;
    });
  });
});
