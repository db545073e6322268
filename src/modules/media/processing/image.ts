import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { encode } from 'blurhash';
import type { Metadata, Sharp } from 'sharp';
import { MediaProcessingError, TooManyPixelsError } from './errors.ts';

export type ImageVariantName = 'thumbnail' | 'small' | 'large';

export type ImageVariant = { data: Buffer; contentType: 'image/webp'; width: number; height: number };

/** The whole image in its own format, for everyone but its owner. */
export type CleanImage = { data: Buffer; contentType: string };

export type ProcessedImage = {
  /** Of the upright image, after the EXIF orientation is applied. */
  width: number;
  height: number;
  blurhash: string;
  /** Upright, without EXIF, GPS, XMP or ICC metadata (sharp writes none unless asked to). */
  variants: Record<ImageVariantName, ImageVariant>;
  /** Made when asked for (`cleanAs`): upright, without EXIF, GPS, XMP or IPTC metadata. */
  clean?: CleanImage;
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

type SharpFunction = (typeof import('sharp'))['default'];

let loadingSharp: Promise<SharpFunction> | undefined;

/**
 * sharp and libvips are loaded by the first image, not at start-up: 10 MiB and tens of milliseconds
 * that a server which is sent no image never needs. libvips' operation cache is turned off: it keeps
 * up to 50 MB of decoded pixels for a repeat that never comes (each pipeline here reads its own buffer).
 */
function loadSharp(): Promise<SharpFunction> {
  return (loadingSharp ??= import('sharp').then(({ default: sharp }) => {
    sharp.cache(false);
    return sharp;
  }));
}

/**
 * How the clean copy is written: the upload's own format, at a quality that keeps it looking as it
 * came. Re-encoding is the only way sharp (libvips) writes an image without its metadata, and turning
 * a sideways photo upright needs new pixels anyway; JPEG at 90 loses nothing a viewer would see.
 * The ICC profile stays (it says how to show the colours, nothing about who took the photo).
 */
const CLEAN_ENCODERS: Record<string, (image: Sharp) => Sharp> = {
  'image/jpeg': (image) => image.jpeg({ quality: 90 }),
  'image/png': (image) => image.png(),
  'image/webp': (image) => image.webp({ quality: 90 }),
  'image/gif': (image) => image.gif(),
  'image/avif': (image) => image.avif({ quality: 70 }),
  // Only with a libvips built with libheif and an HEVC codec, which can decode these in the first place.
  'image/heic': (image) => image.heif({ compression: 'hevc', quality: 80 }),
  'image/heif': (image) => image.heif({ compression: 'hevc', quality: 80 }),
};

/**
 * Decodes an uploaded image (animated ones: first frame) into upright, metadata-free WebP variants;
 * with `cleanAs` (the upload's type), also into a clean copy of the whole image in that format.
 */
export async function processImage(source: Readable, options: { cleanAs?: string } = {}): Promise<ProcessedImage> {
  const input = await buffer(source); // read whole: every variant decodes it again, and decoding costs more
  try {
    const sharp = await loadSharp();
    const [described, clean] = await Promise.all([
      describe(sharp(input, INPUT_OPTIONS)),
      options.cleanAs === undefined ? undefined : cleanCopy(input, options.cleanAs),
    ]);
    return clean === undefined ? described : { ...described, clean };
  } catch (error) {
    throw new MediaProcessingError(`image could not be processed: ${messageOf(error)}`, { cause: error });
  }
}

/** Only the clean copy of an image (for items stored before clean copies existed). */
export async function cleanImage(source: Readable, contentType: string): Promise<CleanImage> {
  const input = await buffer(source);
  try {
    return await cleanCopy(input, contentType);
  } catch (error) {
    throw new MediaProcessingError(`image could not be processed: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * Every frame of an animation is kept, except where sharp cannot turn them (an animation with an EXIF
 * orientation, which cameras do not make) or where all its frames would pass the pixel limit: then
 * the first frame stands for it, upright.
 */
async function cleanCopy(input: Buffer, contentType: string): Promise<CleanImage> {
  const encoder = CLEAN_ENCODERS[contentType];
  if (encoder === undefined) throw new MediaProcessingError(`no clean copy can be written as ${contentType}`);
  const sharp = await loadSharp();
  const frames = await sharp(input, { ...INPUT_OPTIONS, animated: true, limitInputPixels: false }).metadata(); // header only
  const image = sharp(input, { ...INPUT_OPTIONS, animated: keepsFrames(frames) }).keepIccProfile();
  return { data: await encoder(image).toBuffer(), contentType };
}

function keepsFrames({ pages = 1, orientation = 1, width, pageHeight, height }: Metadata): boolean {
  return pages > 1 && orientation === 1 && width * (pageHeight ?? height) * pages <= MAX_INPUT_PIXELS;
}

/**
 * Decodes a profile image into upright, metadata-free square WebP copies, one per side in `sides`
 * (cropped to the middle; a small source is not enlarged, its copies are smaller). An image of more
 * than `maxPixels` is refused from its header (TooManyPixelsError), before any pixel is decoded.
 */
export async function squareImages<S extends string>(
  source: Readable,
  options: { sides: Record<S, number>; maxPixels: number },
): Promise<Record<S, ImageVariant>> {
  const input = await buffer(source);
  try {
    const sharp = await loadSharp();
    // Measured without the limit, so that an image over it is told apart from one that cannot be read.
    const { width, height } = await sharp(input, { ...INPUT_OPTIONS, limitInputPixels: false }).metadata();
    if (width * height > options.maxPixels) throw new TooManyPixelsError(options.maxPixels);
    const image = sharp(input, { ...INPUT_OPTIONS, limitInputPixels: options.maxPixels });
    const { autoOrient } = await image.metadata();
    const shortSide = Math.min(autoOrient.width, autoOrient.height);
    const entries = Object.entries<number>(options.sides).map(async ([name, side]) => {
      const fitted = Math.min(side, shortSide);
      return [name, await toVariant(image.clone().resize(fitted, fitted, { fit: 'cover' }))] as const;
    });
    return Object.fromEntries(await Promise.all(entries)) as Record<S, ImageVariant>;
  } catch (error) {
    if (error instanceof MediaProcessingError) throw error;
    throw new MediaProcessingError(`image could not be processed: ${messageOf(error)}`, { cause: error });
  }
}

async function describe(image: Sharp): Promise<Omit<ProcessedImage, 'clean'>> {
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
