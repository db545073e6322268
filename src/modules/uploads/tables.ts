import type { ColumnType, JSONColumnType } from 'kysely';

export type ResumableUploadStatus = 'uploading' | 'completing' | 'done' | 'failed';

/** The problem a refused upload's final request was answered with. */
export type UploadFailure = { status: number; code: string; detail: string };

/** int8 columns: written as numbers, read back as strings by `pg` (PGlite may give numbers). */
type Int8 = ColumnType<string | number, number, number>;

export type ResumableUploadsTable = {
  id: string;
  owner_id: string;
  media_id: string | null;
  status: ColumnType<ResumableUploadStatus, ResumableUploadStatus | undefined, ResumableUploadStatus>;
  length: Int8 | null;
  failure: JSONColumnType<UploadFailure | null, string | null, string | null>;
  /** What the upload holds of its owner's quota while unfinished: see migration 0008. */
  reserved_bytes: ColumnType<string | number, number | undefined, number>;
  /** The request whose reservation for a deferred-length upload is still to be settled. */
  reserved_by: string | null;
  created_at: Date;
  updated_at: Date | null;
};

export type UploadTables = { resumable_uploads: ResumableUploadsTable };
