import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { pcmWav } from '../../src/demo/generated-media.ts';
import { findFfmpeg } from '../../src/modules/media/processing/ffmpeg.ts';

const run = promisify(execFile);

/** Test media made on the fly: sharp for images, hand-written bytes, and ffmpeg's lavfi sources. */

const GPS_EXIF = {
  IFD0: { Make: 'Plaza Test Camera' },
  IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
};

/** 200×100 pixels stored sideways, with EXIF orientation 6 (displayed 100×200) and a GPS position. */
export function orientedJpegWithGps(): Promise<Buffer> {
  return gradient(200, 100).withExif(GPS_EXIF).withMetadata({ orientation: 6 }).jpeg().toBuffer();
}

export function imageSample(format: 'png' | 'webp' | 'gif' | 'avif' | 'jpeg'): Promise<Buffer> {
  return gradient(64, 48).toFormat(format).toBuffer();
}

/** Not flat, so every variant and the blurhash have something to show. */
function gradient(width: number, height: number) {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) pixels.set([(i % width) * 2, (i / width) * 2, 128], i * 3);
  return sharp(pixels, { raw: { width, height, channels: 3 } });
}

/** The file type box an iPhone HEIC photo starts with (sharp's prebuilt libvips cannot encode HEVC). */
export function heicHead(): Buffer {
  const box = Buffer.alloc(24);
  box.writeUInt32BE(24, 0);
  box.write('ftypheic', 4, 'latin1');
  box.write('mif1heic', 16, 'latin1');
  return box;
}

/** A tiny PNG whose header claims 50,000×50,000 pixels (its data would not fill them). */
export function pngBomb(): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(50_000, 0);
  header.writeUInt32BE(50_000, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', header), pngChunk('IDAT', deflateSync(Buffer.alloc(1024))), pngChunk('IEND', Buffer.alloc(0))]);
}

/**
 * A real, whole black PNG of `width`×`height` pixels that stays small (1 bit per pixel, deflated):
 * a 10,000×10,000 one is about 12 KiB, and decoding it costs what any image of that size does.
 */
export function blankPng(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([1, 0, 0, 0, 0], 8); // 1-bit greyscale, no interlace
  const rowBytes = 1 + Math.ceil(width / 8); // filter byte 0, then black pixels
  const rows = Buffer.alloc(rowBytes * height);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', header), pngChunk('IDAT', deflateSync(rows)), pngChunk('IEND', Buffer.alloc(0))]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/** A mono 16-bit PCM WAV of a sine wave at about half of full scale. */
export function wavSample(seconds = 1, frequency = 440, sampleRate = 8000): Buffer {
  const samples = Float32Array.from({ length: Math.round(seconds * sampleRate) }, (_, i) => 0.49 * Math.sin((2 * Math.PI * frequency * i) / sampleRate));
  return pcmWav(samples, sampleRate);
}

const SINE = ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=1'];
const TEST_PICTURE = ['-f', 'lavfi', '-i', 'testsrc=duration=1:size=320x240:rate=10'];

/** ffmpeg recipes: inputs, then output options; the last element names the output file. */
const RECIPES = {
  mp3: [...SINE, '-c:a', 'libmp3lame', 'out.mp3'],
  aac: [...SINE, '-c:a', 'aac', 'out.aac'],
  m4a: [...SINE, '-c:a', 'aac', 'out.m4a'],
  /** What Safari's MediaRecorder makes: audio-only fragmented MP4 with a generic brand. */
  fragmentedMp4Audio: [...SINE, '-c:a', 'aac', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', 'out.mp4'],
  opus: [...SINE, '-c:a', 'libopus', 'out.opus'],
  /** What Chrome's and Firefox's MediaRecorder make. */
  webmAudio: [...SINE, '-c:a', 'libopus', 'out.webm'],
  /** Long enough that the sniffer sees only its head. */
  longWebmAudio: ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=20', '-c:a', 'libopus', 'out.webm'],
  flac: [...SINE, '-c:a', 'flac', 'out.flac'],
  /**
   * What Android's MediaRecorder (MPEG_4 + AAC) and many recorder apps write: audio-only MP4 with a
   * generic brand and its track list (`moov`) at the end, a minute long so the track list is far past
   * the sniffed head.
   */
  androidM4a: ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=60', '-c:a', 'aac', '-b:a', '24k', '-brand', 'mp42', 'out.mp4'],
  mp4: [...TEST_PICTURE, ...SINE, '-c:v', 'H264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', 'out.mp4'],
  /** Track list at the start, so the sniffer sees its video handler. */
  faststartMp4: [...TEST_PICTURE, ...SINE, '-c:v', 'H264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', '-movflags', '+faststart', 'out.mp4'],
  webm: [...TEST_PICTURE, ...SINE, '-c:v', 'libvpx', '-c:a', 'libopus', '-shortest', 'out.webm'],
  mov: [...TEST_PICTURE, '-c:v', 'H264', '-pix_fmt', 'yuv420p', 'out.mov'],
  /**
   * WebM as a browser's MediaRecorder streams it: written live, so no Duration, no Cues and sizes left
   * unknown; only decoding tells how long it is.
   */
  liveWebm: [...TEST_PICTURE, ...SINE, '-c:v', 'libvpx', '-c:a', 'libopus', '-shortest', '-live', '1', 'out.webm'],
  liveWebmAudio: [...SINE, '-c:a', 'libopus', '-live', '1', 'out.webm'],
} as const;

export type FfmpegSampleName = keyof typeof RECIPES;

const made = new Map<FfmpegSampleName, Promise<Buffer>>();

/** Encoded once per test process. H.264 when this ffmpeg has libx264, MPEG-4 part 2 otherwise. */
export function ffmpegSample(name: FfmpegSampleName): Promise<Buffer> {
  let sample = made.get(name);
  if (!sample) {
    sample = encode(RECIPES[name]);
    made.set(name, sample);
  }
  return sample;
}

async function encode(recipe: readonly string[]): Promise<Buffer> {
  const h264 = (await hasLibx264()) ? 'libx264' : 'mpeg4';
  return inTempDir(async (dir) => {
    const args = recipe.map((arg, index) => (arg === 'H264' ? h264 : index === recipe.length - 1 ? join(dir, arg) : arg));
    await ffmpeg(args);
    return readFile(args.at(-1) ?? '');
  });
}

/**
 * The MP4 sample stored landscape and marked to be shown a quarter turn rotated, as phones record
 * portrait video. ffmpeg 5 keeps the `rotate` mark only when copying the stream, not when encoding.
 */
export async function rotatedMp4Sample(): Promise<Buffer> {
  const mp4 = await ffmpegSample('mp4');
  return inTempDir(async (dir) => {
    await writeFile(join(dir, 'in.mp4'), mp4);
    await ffmpeg(['-i', join(dir, 'in.mp4'), '-c', 'copy', '-metadata:s:v:0', 'rotate=90', join(dir, 'out.mp4')]);
    return readFile(join(dir, 'out.mp4'));
  });
}

async function ffmpeg(args: string[]): Promise<void> {
  await run(await ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-nostdin', ...args]);
}

let defaultFfmpeg: Promise<string> | undefined;
/** The ffmpeg a test app finds by default (the npm-installed one unless it is missing), so no system build is needed. */
function ffmpegPath(): Promise<string> {
  defaultFfmpeg ??= findFfmpeg({ PATH: process.env.PATH }).then((tools) => {
    if (tools === undefined) throw new Error('no ffmpeg: run `npm ci` (it installs @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe)');
    return tools.ffmpeg;
  });
  return defaultFfmpeg;
}

async function inTempDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'plaza-sample-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let libx264: Promise<boolean> | undefined;
function hasLibx264(): Promise<boolean> {
  libx264 ??= ffmpegPath().then((path) => run(path, ['-hide_banner', '-encoders'])).then(({ stdout }) => stdout.includes('libx264'));
  return libx264;
}

/** A minimal ZIP archive holding one stored file, `hello.txt`. */
export function zipSample(): Buffer {
  const name = Buffer.from('hello.txt');
  const content = Buffer.from('hello');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4); // version needed
  local.writeUInt32LE(crc32(content), 14);
  local.writeUInt32LE(content.length, 18);
  local.writeUInt32LE(content.length, 22);
  local.writeUInt16LE(name.length, 26);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  return Buffer.concat([local, name, content, end]);
}

/** The first bytes of a 64-bit Linux executable. */
export function elfSample(): Buffer {
  const header = Buffer.alloc(64);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  header.writeUInt16LE(2, 16); // executable
  header.writeUInt16LE(0x3e, 18); // x86-64
  return header;
}

export const htmlSample = Buffer.from('<!doctype html><html><body><script>alert(1)</script></body></html>');
export const svgSample = Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>');
export const pdfSample = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
