/**
 * The floor for the media suite's image processing: sharp alone, in this process, doing per image
 * what Plaza's processing does — read the file, auto-orient, three WebP variants (160×160 cover,
 * 480 wide, within 1600×1600; quality 80; never enlarged but the thumbnail) written next to each
 * other, a blurhash (4×3 components) of a 32×32 RGBA copy, and the clean copy others are served (the
 * whole image upright as JPEG at quality 90, colour profile kept, no other metadata) — with no HTTP,
 * database or queue.
 *
 * Usage: node media-images.ts <images dir> <output dir> <concurrency>
 * Processes the first image once as a warm-up, then every image, `concurrency` at a time, and
 * prints `{"seconds": …, "cpuSeconds": …, "images": …}` for the timed part (CPU: user + system, all threads).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encode } from 'blurhash';
import sharp, { type Sharp } from 'sharp';

async function processImage(path: string, outDir: string, name: string): Promise<void> {
  const input = await readFile(path);
  const image = sharp(input, { autoOrient: true, failOn: 'truncated', limitInputPixels: 100_000_000 });
  await image.metadata();
  const webp = async (resized: Sharp, variant: string) =>
    writeFile(join(outDir, `${name}-${variant}.webp`), await resized.webp({ quality: 80 }).toBuffer());
  const cleanCopy = sharp(input, { autoOrient: true, failOn: 'truncated', limitInputPixels: 100_000_000 })
    .keepIccProfile()
    .jpeg({ quality: 90 })
    .toBuffer()
    .then((data) => writeFile(join(outDir, `${name}-clean.jpg`), data));
  await Promise.all([
    cleanCopy,
    webp(image.clone().resize(160, 160, { fit: 'cover' }), 'thumbnail'),
    webp(image.clone().resize({ width: 480, withoutEnlargement: true }), 'small'),
    webp(image.clone().resize(1600, 1600, { fit: 'inside', withoutEnlargement: true }), 'large'),
    image
      .clone()
      .resize(32, 32, { fit: 'inside' })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true })
      .then(({ data, info }) => encode(new Uint8ClampedArray(data), info.width, info.height, 4, 3)),
  ]);
}

async function main(): Promise<void> {
  const [imagesDir, outDir, concurrencyArg] = process.argv.slice(2);
  const concurrency = Number(concurrencyArg);
  if (imagesDir === undefined || outDir === undefined || !(concurrency >= 1)) {
    throw new Error('usage: media-images.ts <images dir> <output dir> <concurrency>');
  }
  await mkdir(outDir, { recursive: true });
  const names = (await readdir(imagesDir)).filter((name) => name.endsWith('.jpg')).sort();
  if (names.length === 0) throw new Error(`no .jpg in ${imagesDir}`);
  await processImage(join(imagesDir, names[0]!), outDir, 'warm-up');
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      await processImage(join(imagesDir, name), outDir, name);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, names.length) }, worker));
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpuBefore);
  console.log(JSON.stringify({ seconds, cpuSeconds: (user + system) / 1e6, images: names.length }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
