import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { encode } from 'blurhash';
import sharp, { type Sharp } from 'sharp';
import { MediaProcessingError } from './errors.ts';

export type ImageVariantName = 'thumbnail' | 'small' | 'large';

export type ImageVariant = { data: Buffer; contentType: 'image/webp'; width: number; height: number };

export type ProcessedImage = {
  /** Of the upright image, after the EXIF orientation is applied. */
  width: number;
  height: number;
  blurhash: string;
  /** Upright, without EXIF, GPS, XMP or ICC metadata (sharp writes none unless asked to). */
  variants: Record<ImageVariantName, ImageVariant>;
};

/** Larger images are refused from their header, before any pixel is decoded. */
const MAX_INPUT_PIXELS = 100_000_000;

const INPUT_OPTIONS = {
  limitInputPixels: MAX_INPUT_PIXELS,
  // Truncated or corrupt data is an error; mere decoder warnings (common in camera files) are not.
  failOn: 'truncated',
  autoOrient: true,
} as const;

const WEBP_QUALITY = 80;

/** Decodes an uploaded image (animated ones: first frame) into upright, metadata-free WebP variants. */
export async function processImage(source: Readable): Promise<ProcessedImage> {
  const input = await buffer(source); // read whole: every variant decodes it again, and decoding costs more
  try {
    return await describe(sharp(input, INPUT_OPTIONS));
  } catch (error) {
    throw new MediaProcessingError(`image could not be processed: ${messageOf(error)}`, { cause: error });
  }
}

export type AvatarSize = 'small' | 'medium' | 'large';

/** Profile images are square, cropped to the middle; a small source is not enlarged (its sizes are smaller). */
const AVATAR_SIDES: Record<AvatarSize, number> = { small: 128, medium: 400, large: 1024 };

/** Decodes a profile image into upright, metadata-free square WebP sizes. */
export async function processAvatar(source: Readable): Promise<Record<AvatarSize, ImageVariant>> {
  const input = await buffer(source);
  try {
    const image = sharp(input, INPUT_OPTIONS);
    const { autoOrient } = await image.metadata();
    const shortSide = Math.min(autoOrient.width, autoOrient.height);
    const square = (side: number) => {
      const fitted = Math.min(side, shortSide);
      return toVariant(image.clone().resize(fitted, fitted, { fit: 'cover' }));
    };
    const [small, medium, large] = await Promise.all([square(AVATAR_SIDES.small), square(AVATAR_SIDES.medium), square(AVATAR_SIDES.large)]);
    return { small, medium, large };
  } catch (error) {
    throw new MediaProcessingError(`image could not be processed: ${messageOf(error)}`, { cause: error });
  }
}

async function describe(image: Sharp): Promise<ProcessedImage> {
  const { autoOrient } = await image.metadata();
  const [thumbnail, small, large, blurhash] = await Promise.all([
    toVariant(image.clone().resize(160, 160, { fit: 'cover' })),
    toVariant(image.clone().resize({ width: 480, withoutEnlargement: true })),
    toVariant(image.clone().resize(1600, 1600, { fit: 'inside', withoutEnlargement: true })),
    blurhashOf(image.clone()),
  ]);
  return { width: autoOrient.width, height: autoOrient.height, blurhash, variants: { thumbnail, small, large } };
}

async function toVariant(image: Sharp): Promise<ImageVariant> {
  const { data, info } = await image.webp({ quality: WEBP_QUALITY }).toBuffer({ resolveWithObject: true });
  return { data, contentType: 'image/webp', width: info.width, height: info.height };
}

/** Encoded from a tiny RGBA copy: 4×3 components are enough for a placeholder. */
async function blurhashOf(image: Sharp): Promise<string> {
  const { data, info } = await image
    .resize(32, 32, { fit: 'inside' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return encode(new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), info.width, info.height, 4, 3);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
