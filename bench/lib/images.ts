/** Distinct photo-sized JPEGs for the media suite, made with sharp. */
import { join } from 'node:path';
import sharp from 'sharp';

/**
 * Writes `count` JPEGs (`image-000.jpg`, …) of `width`×`height` to `dir`: smooth gradients and waves
 * that differ per image, with a little noise, at quality 85 — compressed about like a camera photo.
 * Every other one carries EXIF orientation 6 (rotate 90°), so auto-orientation has work to do.
 */
export async function writeTestImages(dir: string, count: number, width: number, height: number): Promise<number> {
  let totalBytes = 0;
  for (let n = 0; n < count; n++) {
    const pixels = Buffer.allocUnsafe(width * height * 3);
    let seed = (n + 1) * 2_654_435_761;
    const fx = 3 + (n % 7);
    const fy = 2 + ((n * 3) % 5);
    let i = 0;
    for (let y = 0; y < height; y++) {
      const wy = Math.sin((y / height) * fy * Math.PI);
      for (let x = 0; x < width; x++) {
        seed = (seed * 1_103_515_245 + 12_345) >>> 0;
        const noise = (seed >>> 24) & 15;
        const wave = Math.sin((x / width) * fx * Math.PI + n) * wy;
        pixels[i++] = ((x * 255) / width + noise + n * 17) & 255;
        pixels[i++] = (128 + wave * 100 + noise) & 255;
        pixels[i++] = ((y * 255) / height + noise + n * 29) & 255;
      }
    }
    let image = sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 });
    if (n % 2 === 1) image = image.withMetadata({ orientation: 6 });
    const { size } = await image.toFile(join(dir, `image-${String(n).padStart(3, '0')}.jpg`));
    totalBytes += size;
  }
  return totalBytes;
}
