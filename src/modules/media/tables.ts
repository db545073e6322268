import type { ColumnType, JSONColumnType } from 'kysely';

export type MediaPurpose = 'post' | 'recording';
export type MediaStatus = 'processing' | 'ready' | 'failed';
/**
 * Files made from an upload: `clean`, the upload itself as everyone but its owner gets it (upright,
 * without EXIF, GPS, camera or creation tags), and the image sizes.
 */
export type VariantName = 'clean' | 'thumbnail' | 'small' | 'large';
export type StoredVariant = { contentType: string; size: number };

/** int8 columns: written as numbers, read back as strings by `pg` (PGlite may give numbers). */
type Int8 = ColumnType<string | number, number, number>;

export type MediaTable = {
  id: string;
  owner_id: string;
  purpose: MediaPurpose;
  kind: 'image' | 'audio' | 'video';
  content_type: string;
  size: Int8;
  file_name: string;
  status: MediaStatus;
  failure: string | null;
  width: number | null;
  height: number | null;
  duration_ms: Int8 | null;
  blurhash: string | null;
  waveform: JSONColumnType<number[] | null, string | null, string | null>;
  variants: JSONColumnType<Partial<Record<VariantName, StoredVariant>>, string | undefined, string>;
  created_at: Date;
  updated_at: Date;
};

export type MediaTables = { media: MediaTable };
