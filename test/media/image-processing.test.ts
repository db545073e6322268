import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { MediaProcessingError } from '../../src/modules/media/processing/errors.ts';
import { processImage } from '../../src/modules/media/processing/image.ts';
import * as samples from '../helpers/media-samples.ts';

/** Tag 0x8825 as a little-endian EXIF block writes it: where the GPS directory starts. */
const GPS_IFD_POINTER_TAG = Buffer.from([0x25, 0x88]);
const fromBytes = (bytes: Buffer) => Readable.from([bytes]);

describe('processImage', () => {
  test('turns the image upright and strips EXIF and GPS from every variant', async () => {
    const jpeg = await samples.orientedJpegWithGps();
    const original = await sharp(jpeg).metadata();
    assert.equal(original.orientation, 6);
    assert.ok(original.exif?.includes(GPS_IFD_POINTER_TAG), 'the sample carries a GPS position');

    const image = await processImage(fromBytes(jpeg));
    assert.deepEqual([image.width, image.height], [100, 200]);
    for (const [name, variant] of Object.entries(image.variants)) {
      const output = await sharp(variant.data).metadata();
      assert.equal(output.format, 'webp', name);
      assert.equal(output.exif, undefined, `${name} has no EXIF`);
      assert.equal(output.xmp, undefined, `${name} has no XMP`);
      assert.equal(output.orientation, undefined, `${name} needs no orientation`);
      assert.deepEqual([output.width, output.height], [variant.width, variant.height], name);
    }
    assert.deepEqual([image.variants.large.width, image.variants.large.height], [100, 200]);
  });

  test('with cleanAs, also makes the whole image upright in its own format, without EXIF or GPS', async () => {
    const jpeg = await samples.orientedJpegWithGps();
    const { clean } = await processImage(fromBytes(jpeg), { cleanAs: 'image/jpeg' });
    assert.equal(clean?.contentType, 'image/jpeg');
    const output = await sharp(clean?.data).metadata();
    assert.deepEqual([output.format, output.width, output.height], ['jpeg', 100, 200]);
    assert.deepEqual([output.exif, output.xmp, output.orientation], [undefined, undefined, undefined]);
    assert.equal((await processImage(fromBytes(jpeg))).clean, undefined, 'only when asked for');
  });

  test('keeps every frame of an animation in its clean copy', async () => {
    const frames = Buffer.alloc(20 * 60 * 4);
    for (let i = 0; i < 20 * 60; i++) frames.set([i % 251, (i * 3) % 251, 128, 255], i * 4); // frames that differ
    const gif = await sharp(frames, { raw: { width: 20, height: 60, channels: 4, pageHeight: 20 } }).gif({ delay: [100, 100, 100] }).toBuffer();
    const { clean } = await processImage(fromBytes(gif), { cleanAs: 'image/gif' });
    const output = await sharp(clean?.data, { animated: true }).metadata();
    assert.deepEqual([output.format, output.pages, output.pageHeight], ['gif', 3, 20]);
  });

  test('makes a square thumbnail, and never enlarges small and large', async () => {
    const image = await processImage(fromBytes(await samples.imageSample('png')));
    const { thumbnail, small, large } = image.variants;
    assert.deepEqual([thumbnail.width, thumbnail.height], [160, 160]);
    assert.deepEqual([small.width, small.height], [64, 48]);
    assert.deepEqual([large.width, large.height], [64, 48]);
    assert.equal(thumbnail.contentType, 'image/webp');
  });

  test('gives a blurhash of 4×3 components', async () => {
    const { blurhash } = await processImage(fromBytes(await samples.imageSample('webp')));
    assert.match(blurhash, /^[0-9A-Za-z#$%*+,\-.:;=?@[\]^_{|}~]{28}$/); // 4 + 2 × 4 × 3 characters
  });

  for (const format of ['gif', 'avif'] as const) {
    test(`decodes ${format}`, async () => {
      const image = await processImage(fromBytes(await samples.imageSample(format)));
      assert.deepEqual([image.width, image.height], [64, 48]);
    });
  }

  test('a truncated JPEG is rejected with a clear error', async () => {
    const jpeg = await samples.imageSample('jpeg');
    await assert.rejects(processImage(fromBytes(jpeg.subarray(0, Math.floor(jpeg.length / 2)))), MediaProcessingError);
    await assert.rejects(processImage(fromBytes(jpeg.subarray(0, 200))), MediaProcessingError);
  });

  test('a 50,000 × 50,000 PNG is refused from its header, quickly', async () => {
    const started = performance.now();
    await assert.rejects(processImage(fromBytes(samples.pngBomb())), (error: unknown) => {
      assert.ok(error instanceof MediaProcessingError);
      assert.match(error.message, /pixel limit/);
      return true;
    });
    assert.ok(performance.now() - started < 1000, 'no pixels were decoded');
  });

  test('bytes that are no image are rejected', async () => {
    await assert.rejects(processImage(fromBytes(samples.htmlSample)), MediaProcessingError);
  });
});
