import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { AppError } from '../../src/http/errors.ts';
import { safeFileName, sniffBytes, sniffStream, SNIFF_HEAD_BYTES } from '../../src/modules/media/sniff.ts';
import * as samples from '../helpers/media-samples.ts';

/** Chunks of 1,000 bytes, the way a request body arrives. */
function chunked(bytes: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 1000) chunks.push(bytes.subarray(at, at + 1000));
  return Readable.from(chunks);
}

describe('sniffing accepts what Plaza serves, by its bytes', () => {
  const accepted: [string, () => Promise<Buffer> | Buffer, string, string][] = [
    ['JPEG', () => samples.imageSample('jpeg'), 'image', 'image/jpeg'],
    ['PNG', () => samples.imageSample('png'), 'image', 'image/png'],
    ['WebP', () => samples.imageSample('webp'), 'image', 'image/webp'],
    ['GIF', () => samples.imageSample('gif'), 'image', 'image/gif'],
    ['AVIF', () => samples.imageSample('avif'), 'image', 'image/avif'],
    ['HEIC (an iPhone photo\'s file type box)', () => samples.heicHead(), 'image', 'image/heic'],
    ['WAV', () => samples.wavSample(), 'audio', 'audio/wav'],
    ['MP3', () => samples.ffmpegSample('mp3'), 'audio', 'audio/mpeg'],
    ['AAC (ADTS)', () => samples.ffmpegSample('aac'), 'audio', 'audio/aac'],
    ['M4A', () => samples.ffmpegSample('m4a'), 'audio', 'audio/mp4'],
    ['audio-only fragmented MP4 (Safari MediaRecorder)', () => samples.ffmpegSample('fragmentedMp4Audio'), 'audio', 'audio/mp4'],
    ['Ogg Opus', () => samples.ffmpegSample('opus'), 'audio', 'audio/ogg'],
    ['WebM audio (MediaRecorder)', () => samples.ffmpegSample('webmAudio'), 'audio', 'audio/webm'],
    ['FLAC', () => samples.ffmpegSample('flac'), 'audio', 'audio/flac'],
    ['MP4 video', () => samples.ffmpegSample('mp4'), 'video', 'video/mp4'],
    ['MP4 video with sound, track list first', () => samples.ffmpegSample('faststartMp4'), 'video', 'video/mp4'],
    ['WebM video', () => samples.ffmpegSample('webm'), 'video', 'video/webm'],
    ['QuickTime', () => samples.ffmpegSample('mov'), 'video', 'video/quicktime'],
  ];
  for (const [name, make, kind, contentType] of accepted) {
    test(name, async () => {
      const type = await sniffBytes(await make());
      assert.equal(type?.kind, kind);
      assert.equal(type?.contentType, contentType);
    });
  }

  test('a JPEG cut short after its header is still a JPEG (decoding fails later)', async () => {
    const jpeg = await samples.imageSample('jpeg');
    assert.equal((await sniffBytes(jpeg.subarray(0, 200)))?.contentType, 'image/jpeg');
  });
});

describe('sniffing refuses everything else, whatever it claims to be', () => {
  const refused: [string, Buffer][] = [
    ['HTML', samples.htmlSample],
    ['SVG', samples.svgSample],
    ['ZIP', samples.zipSample()],
    ['ELF executable', samples.elfSample()],
    ['PE executable', Buffer.concat([Buffer.from('MZ'), Buffer.alloc(126)])],
    ['PDF', samples.pdfSample],
    ['plain text', Buffer.from('just some words\n')],
    ['random bytes', Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251))],
  ];
  for (const [name, bytes] of refused) {
    test(name, async () => {
      assert.equal(await sniffBytes(bytes), undefined);
      await assert.rejects(sniffStream(Readable.from([bytes])), (error: unknown) => {
        assert.ok(error instanceof AppError);
        assert.equal(error.status, 415);
        assert.equal(error.code, 'unsupported_media_type');
        return true;
      });
    });
  }

  test('an empty upload is refused as empty, not as a wrong type', async () => {
    assert.equal(await sniffBytes(Buffer.alloc(0)), undefined);
    await assert.rejects(sniffStream(Readable.from([])), { status: 400, code: 'invalid_request' });
    await assert.rejects(sniffStream(Readable.from([Buffer.alloc(0)])), { status: 400, code: 'invalid_request' });
  });
});

describe('sniffStream', () => {
  test('passes the whole upload on unchanged after peeking at its head', async () => {
    const wav = samples.wavSample(10); // 160 kB: far more than the head
    assert.ok(wav.length > SNIFF_HEAD_BYTES * 2);
    const sniffed = await sniffStream(chunked(wav));
    assert.equal(sniffed.contentType, 'audio/wav');
    assert.deepEqual(await buffer(sniffed.stream), wav);
  });

  test('a long WebM recording is audio from its head alone', async () => {
    const webm = await samples.ffmpegSample('longWebmAudio');
    assert.ok(webm.length > SNIFF_HEAD_BYTES * 2);
    const sniffed = await sniffStream(chunked(webm));
    assert.equal(sniffed.contentType, 'audio/webm');
    sniffed.stream.destroy();
  });

  test('reads no more than the head before deciding', async () => {
    let pulled = 0;
    const wav = samples.wavSample(10);
    const source = new Readable({
      highWaterMark: 1000,
      read() {
        const chunk = wav.subarray(pulled, pulled + 1000);
        pulled += chunk.length;
        this.push(chunk.length > 0 ? chunk : null);
      },
    });
    await sniffStream(source);
    assert.ok(pulled <= SNIFF_HEAD_BYTES + 2 * 1000, `pulled ${pulled} bytes`);
  });

  test('destroying the returned stream destroys the source', async () => {
    const source = chunked(samples.wavSample(10));
    const sniffed = await sniffStream(source);
    sniffed.stream.destroy();
    await new Promise((resolve) => source.once('close', resolve));
    assert.ok(source.destroyed);
  });

  test('a small upload that ends inside the head is passed on whole', async () => {
    const png = await samples.imageSample('png');
    const sniffed = await sniffStream(chunked(png));
    assert.deepEqual(await buffer(sniffed.stream), png);
  });

  test('an error in the source reaches the returned stream', async () => {
    const wav = samples.wavSample(10);
    const source = new Readable({ read() {} });
    source.push(wav.subarray(0, SNIFF_HEAD_BYTES));
    const sniffed = await sniffStream(source);
    source.destroy(new Error('client went away'));
    await assert.rejects(buffer(sniffed.stream), /client went away/);
  });
});

describe('safeFileName', () => {
  const cases: [string, string, string][] = [
    ['keeps an ordinary name', 'holiday photo.jpg', 'holiday photo.jpg'],
    ['drops path components', '../../etc/passwd', 'passwd'],
    ['drops Windows path components', 'C:\\Users\\ada\\voice.m4a', 'voice.m4a'],
    ['does not decode percent-escapes', '%2e%2e%2fsecret', '%2e%2e%2fsecret'],
    ['removes NUL and control characters', 'voice\u0000.m4a\r\n', 'voice.m4a'],
    ['removes bidi overrides and marks', 'invoice\u202Egpj.exe\u200F', 'invoicegpj.exe'],
    ['falls back when nothing is left', '', 'upload'],
    ['falls back for a bare directory', '../', 'upload'],
    ['falls back for dots', '..', 'upload'],
    ['falls back for blanks and controls', ' \u0000\u2066 ', 'upload'],
    ['trims spaces', '  memo.txt  ', 'memo.txt'],
  ];
  for (const [name, label, expected] of cases) {
    test(name, () => assert.equal(safeFileName(label), expected));
  }

  test('caps the length at 255 characters and keeps the extension', () => {
    const name = safeFileName('a'.repeat(5000) + '.jpeg');
    assert.equal(name.length, 255);
    assert.ok(name.endsWith('a.jpeg'));
  });

  test('never cuts a character in half', () => {
    const name = safeFileName('🎵'.repeat(300));
    assert.equal(Array.from(name).length, 255);
    assert.equal(name, '🎵'.repeat(255));
  });
});
