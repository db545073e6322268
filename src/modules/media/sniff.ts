import { open } from 'node:fs/promises';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import { errors } from '#http/errors.ts';

export type MediaKind = 'image' | 'audio' | 'video';

/** What an upload is, decided from its bytes alone (never from its Content-Type header or file name). */
export type MediaType = { kind: MediaKind; contentType: string; extension: string };

export type SniffedUpload = MediaType & {
  /** The whole upload: the peeked head replayed, then the rest of the source. */
  stream: Readable;
};

/**
 * How much of an upload is read before deciding. More than file-type's 4,100 bytes so that the track
 * list of a WebM recording or of a fragmented MP4 (both near the start) is in view.
 */
export const SNIFF_HEAD_BYTES = 64 * 1024;

const image = (contentType: string, extension: string): MediaType => ({ kind: 'image', contentType, extension });
const audio = (contentType: string, extension: string): MediaType => ({ kind: 'audio', contentType, extension });
const video = (contentType: string, extension: string): MediaType => ({ kind: 'video', contentType, extension });

/** file-type's MIME type → what Plaza accepts. Anything not listed is refused. */
const ALLOWED = new Map<string, MediaType>([
  ['image/jpeg', image('image/jpeg', 'jpg')],
  ['image/png', image('image/png', 'png')],
  ['image/webp', image('image/webp', 'webp')],
  ['image/gif', image('image/gif', 'gif')],
  ['image/avif', image('image/avif', 'avif')],
  ['image/heic', image('image/heic', 'heic')],
  ['image/heif', image('image/heif', 'heif')],
  ['audio/mpeg', audio('audio/mpeg', 'mp3')],
  ['audio/aac', audio('audio/aac', 'aac')],
  ['audio/x-m4a', audio('audio/mp4', 'm4a')],
  ['audio/ogg; codecs=opus', audio('audio/ogg', 'opus')],
  ['audio/wav', audio('audio/wav', 'wav')],
  ['audio/flac', audio('audio/flac', 'flac')],
  ['video/mp4', video('video/mp4', 'mp4')],
  ['video/x-m4v', video('video/mp4', 'm4v')],
  ['video/webm', video('video/webm', 'webm')],
  ['video/quicktime', video('video/quicktime', 'mov')],
]);

const REFUSAL =
  'Only JPEG, PNG, WebP, GIF, AVIF and HEIC images, MP3, AAC, M4A, Ogg Opus, WebM, WAV and FLAC audio, ' +
  'and MP4, WebM and QuickTime video are accepted';

const AUDIO_WEBM = audio('audio/webm', 'webm');
const AUDIO_MP4 = audio('audio/mp4', 'm4a');

/** The usual extension of each type Plaza keeps: the first one listed wins (`video/mp4` is `mp4`). */
const EXTENSIONS = new Map([...ALLOWED.values(), AUDIO_WEBM, AUDIO_MP4].reverse().map((type) => [type.contentType, type.extension]));

/** The extension of a stored item's sniffed type, for names that must not come from the client. */
export function extensionOf(contentType: string): string {
  return EXTENSIONS.get(contentType) ?? 'bin';
}

/**
 * Classifies the first bytes of an upload, or returns undefined when Plaza does not accept it.
 *
 * WebM and MP4 containers hold audio or video, and file-type calls every WebM and every MP4 with a
 * generic brand (isom, mp42, iso5, …) video. Those are called audio only when the head shows their
 * tracks and none is video — a MediaRecorder recording (WebM from Chrome and Firefox, fragmented MP4
 * from Safari) does. An MP4 whose track list is not in the head (`moov` at the end) stays video;
 * an MP4 with the `M4A ` brand is audio.
 */
export async function sniffBytes(head: Uint8Array): Promise<MediaType | undefined> {
  const detected = await fileTypeFromBuffer(head);
  const type = detected && ALLOWED.get(detected.mime);
  if (type?.contentType === 'video/webm' && (await isAudioOnlyWebm(head))) return AUDIO_WEBM;
  if (type?.contentType === 'video/mp4' && isAudioOnlyMp4(head)) return AUDIO_MP4;
  return type;
}

async function isAudioOnlyWebm(head: Uint8Array): Promise<boolean> {
  // Loaded at the first WebM sniffed, as audio.ts does: 40 modules a start needs not wait for.
  const { parseBuffer } = await import('music-metadata');
  // A browser's MediaRecorder leaves its clusters' sizes unknown, which music-metadata throws on after
  // it has read the track list: the tracks seen by then decide.
  let tracks: readonly { video?: unknown }[] | undefined;
  const observer = (update: { metadata: { format: { trackInfo: readonly { video?: unknown }[] } }; tag: { id: string } }) => {
    if (update.tag.id === 'hasAudio') tracks = update.metadata.format.trackInfo;
  };
  try {
    const { format } = await parseBuffer(head, { mimeType: 'video/webm' }, { duration: false, skipCovers: true, observer });
    return format.hasAudio === true && format.hasVideo === false;
  } catch {
    // No audio track read from the head: keep file-type's answer.
    return tracks !== undefined && tracks.every((track) => track.video === undefined);
  }
}

/** Looks at the handler type of every `hdlr` box in the head: `soun` tracks and no `vide` track. */
function isAudioOnlyMp4(head: Uint8Array): boolean {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const handlers = new Set<string>();
  for (let at = bytes.indexOf('hdlr'); at !== -1; at = bytes.indexOf('hdlr', at + 4)) {
    // box type, then version and flags (4 bytes), pre_defined (4 bytes), handler type (4 bytes)
    handlers.add(bytes.toString('latin1', at + 12, at + 16));
  }
  return handlers.has('soun') && !handlers.has('vide');
}

/**
 * Peeks at the head of an upload, classifies it, and hands back a stream of the whole upload, so it
 * can go on to storage unbuffered. Refuses what Plaza does not accept with `415 unsupported_media_type`;
 * the source is then left as it is (paused, not destroyed) for the caller to drain or close.
 */
export async function sniffStream(source: Readable): Promise<SniffedUpload> {
  const head = await readHead(source, SNIFF_HEAD_BYTES);
  const type = await classify(Buffer.concat(head));
  return { ...type, stream: replay(head, source) };
}

/** Classifies a whole file on this machine from its head, with the same refusals as `sniffStream`. */
export async function sniffFile(path: string): Promise<MediaType> {
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read({ buffer: Buffer.alloc(SNIFF_HEAD_BYTES), position: 0 });
    return await classify(buffer.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}

async function classify(head: Buffer): Promise<MediaType> {
  if (head.length === 0) throw errors.invalidRequest('The upload is empty');
  const type = await sniffBytes(head);
  if (!type) throw errors.unsupportedMediaType(REFUSAL);
  return type;
}

/** Reads chunks until at least `size` bytes or the end; the source stays usable for the rest. */
async function readHead(source: Readable, size: number): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of source.iterator({ destroyOnReturn: false })) {
    chunks.push(chunk as Uint8Array);
    length += (chunk as Uint8Array).length;
    if (length >= size) break;
  }
  return chunks;
}

/** The head, then the rest of the source; a source error or early end reaches the reader. */
function replay(head: Uint8Array[], rest: Readable): Readable {
  const whole = new PassThrough();
  for (const chunk of head) whole.write(chunk);
  // Errors travel by destroying `whole`; the callback only keeps them from going unhandled.
  pipeline(rest, whole, () => {});
  return whole;
}

const MAX_FILE_NAME_LENGTH = 255;
const MAX_EXTENSION_LENGTH = 16;
/** Control characters, and the marks that reorder text (bidi embeddings, overrides and isolates). */
const INVISIBLE_OR_REORDERING = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu;

/**
 * Makes a client-given file name safe to show and to put in a Content-Disposition header. It is a
 * label only — storage keys never come from it. Percent-escapes are left as they are (not decoded).
 */
export function safeFileName(label: string, fallback = 'upload'): string {
  const cleaned = label.normalize('NFC').replace(INVISIBLE_OR_REORDERING, '');
  const lastSegment = (cleaned.split(/[/\\]/).pop() ?? '').trim();
  if (lastSegment === '' || lastSegment === '.' || lastSegment === '..') return fallback;
  return capLength(lastSegment);
}

/** Cuts by code points (never inside a surrogate pair) and keeps a short extension. */
function capLength(name: string): string {
  const chars = Array.from(name);
  if (chars.length <= MAX_FILE_NAME_LENGTH) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? Array.from(name.slice(dot)) : [];
  const kept = extension.length <= MAX_EXTENSION_LENGTH ? extension : [];
  return chars.slice(0, MAX_FILE_NAME_LENGTH - kept.length).join('').trimEnd() + kept.join('');
}
