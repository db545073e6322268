import Type, { type Static } from 'typebox';

const Id = Type.String({ description: 'Opaque, time-ordered id' });
const Timestamp = Type.String({ format: 'date-time' });
const Link = Type.String({ description: 'A short-lived signed link to the bytes; works without a bearer token' });
const Waveform = Type.Array(Type.Number({ minimum: 0, maximum: 1 }), { description: 'Audio peaks, 0..1' });

export const MediaKind = Type.Union([Type.Literal('image'), Type.Literal('audio'), Type.Literal('video')]);

export const Media = Type.Object({
  id: Id,
  kind: MediaKind,
  contentType: Type.String(),
  size: Type.Integer({ minimum: 0, description: 'Bytes of the upload as it came' }),
  fileName: Type.Optional(Type.String({ description: 'The label the client gave, shown to the owner only; never a storage path' })),
  status: Type.Union([Type.Literal('processing'), Type.Literal('ready'), Type.Literal('failed')]),
  createdAt: Timestamp,
  width: Type.Optional(Type.Integer()),
  height: Type.Optional(Type.Integer()),
  durationMs: Type.Optional(Type.Integer()),
  blurhash: Type.Optional(Type.String()),
  waveform: Type.Optional(Waveform),
  url: Type.Optional(
    Type.String({
      description:
        'A short-lived signed link to the bytes; works without a bearer token. In the owner’s own view: the upload as it came; ' +
        'in posts: its copy without metadata, present once made',
    }),
  ),
  thumbnailUrl: Type.Optional(Link),
});
export type Media = Static<typeof Media>;

/** A paid post's media for a caller who has not bought it: what it is, never where its bytes are. */
export const LockedMedia = Type.Object({
  id: Id,
  kind: MediaKind,
  width: Type.Optional(Type.Integer()),
  height: Type.Optional(Type.Integer()),
  durationMs: Type.Optional(Type.Integer()),
  blurhash: Type.Optional(Type.String()),
});
export type LockedMedia = Static<typeof LockedMedia>;

export const Recording = Type.Object({
  id: Id,
  fileName: Type.String(),
  contentType: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  durationMs: Type.Union([Type.Integer(), Type.Null()], { description: 'Null when it could not be measured' }),
  waveform: Type.Union([Waveform, Type.Null()], { description: 'Null without ffmpeg on the server' }),
  createdAt: Timestamp,
  url: Link,
});
export type Recording = Static<typeof Recording>;

/**
 * Which file: `clean` is the upload as everyone but its owner gets it (upright, without EXIF, GPS,
 * camera or creation metadata; what they get for no variant), the others are WebP image sizes.
 */
export const VariantQuery = Type.Union([Type.Literal('clean'), Type.Literal('thumbnail'), Type.Literal('small'), Type.Literal('large')]);
