import { sql } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import type { ResumableUploadStatus, UploadFailure } from './tables.ts';

/** The SQL of the uploads module. Every function takes the db or a transaction. */

export type UploadRow = {
  id: string;
  owner_id: string;
  media_id: string | null;
  status: ResumableUploadStatus;
  length: number | null;
  failure: UploadFailure | null;
  reserved_bytes: number;
  created_at: Date;
};

/** An upload not yet done or failed: it holds storage, and counts against the owner's quota and open uploads. */
const OPEN_STATUSES: ResumableUploadStatus[] = ['uploading', 'completing'];

const COLUMNS = ['id', 'owner_id', 'media_id', 'status', 'length', 'failure', 'reserved_bytes', 'created_at'] as const;

function toRow(row: {
  id: string;
  owner_id: string;
  media_id: string | null;
  status: ResumableUploadStatus;
  length: string | number | null;
  failure: UploadFailure | null;
  reserved_bytes: string | number;
  created_at: Date;
}): UploadRow {
  return { ...row, length: row.length === null ? null : Number(row.length), reserved_bytes: Number(row.reserved_bytes) };
}

export async function insertUpload(
  db: Database,
  row: { id: string; ownerId: string; length: number | undefined; reservedBytes: number; reservedBy: string | undefined; now: Date },
): Promise<void> {
  await db
    .insertInto('resumable_uploads')
    .values({
      id: row.id,
      owner_id: row.ownerId,
      media_id: null,
      status: 'uploading',
      length: row.length ?? null,
      failure: null,
      reserved_bytes: row.reservedBytes,
      reserved_by: row.reservedBy ?? null,
      created_at: row.now,
      updated_at: row.now,
    })
    .execute();
}

export async function findOwnUpload(db: Database, ownerId: string, id: string): Promise<UploadRow | undefined> {
  const row = await db
    .selectFrom('resumable_uploads')
    .select(COLUMNS)
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .executeTakeFirst();
  return row === undefined ? undefined : toRow(row);
}

/** Moves one of `ownerId`'s uploads from `from` to `to`; false when it was not in `from` (someone else got there first). */
export async function moveUpload(
  db: Database,
  { id, ownerId }: { id: string; ownerId: string },
  from: ResumableUploadStatus,
  to: ResumableUploadStatus,
  now: Date,
  fields: { mediaId?: string; failure?: UploadFailure; length?: number } = {},
): Promise<boolean> {
  const result = await db
    .updateTable('resumable_uploads')
    .set({
      status: to,
      updated_at: now,
      ...(fields.mediaId !== undefined && { media_id: fields.mediaId }),
      ...(fields.failure !== undefined && { failure: JSON.stringify(fields.failure) }),
      ...(fields.length !== undefined && { length: fields.length }),
    })
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .where('status', '=', from)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** An owner's unfinished uploads: how many, and the bytes they hold of the quota (`exceptId` left out). */
export async function openUploadsOf(db: Database, ownerId: string, exceptId?: string): Promise<{ count: number; reservedBytes: number }> {
  let select = db
    .selectFrom('resumable_uploads')
    .select([sql<string>`count(*)`.as('count'), sql<string>`coalesce(sum(reserved_bytes), 0)`.as('reserved')])
    .where('owner_id', '=', ownerId)
    .where('status', 'in', OPEN_STATUSES);
  if (exceptId !== undefined) select = select.where('id', '<>', exceptId);
  const row = await select.executeTakeFirstOrThrow();
  return { count: Number(row.count), reservedBytes: Number(row.reserved) };
}

/** Sets what an upload holds of the quota, until the request `by` settles it. */
export async function reserve(db: Database, id: string, bytes: number, by: string): Promise<void> {
  await db.updateTable('resumable_uploads').set({ reserved_bytes: bytes, reserved_by: by }).where('id', '=', id).execute();
}

/**
 * Settles the reservation the request `by` made to what the upload holds now, and records its length
 * once declared; does nothing when a later request has taken the reservation over.
 */
export async function settleReservation(
  db: Database,
  id: string,
  by: string,
  settled: { reservedBytes: number; length: number | undefined },
): Promise<void> {
  await db
    .updateTable('resumable_uploads')
    .set({
      reserved_bytes: settled.reservedBytes,
      reserved_by: null,
      ...(settled.length !== undefined && { length: settled.length }),
    })
    .where('id', '=', id)
    .where('reserved_by', '=', by)
    .execute();
}

export async function deleteUpload(db: Database, id: string): Promise<void> {
  await db.deleteFrom('resumable_uploads').where('id', '=', id).execute();
}

/** Deletes an upload still taking bytes; false when it is not (gone, done, failed, being completed). */
export async function deleteUnfinishedUpload(db: Database, id: string): Promise<boolean> {
  const result = await db.deleteFrom('resumable_uploads').where('id', '=', id).where('status', '=', 'uploading').executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/**
 * Unfinished uploads started before `before`, oldest first; a `completing` one only once it has not
 * moved since `stuckBefore` (its request died with its process).
 */
export async function staleUploads(
  db: Database,
  before: Date,
  stuckBefore: Date,
  limit: number,
): Promise<{ id: string; status: ResumableUploadStatus }[]> {
  return db
    .selectFrom('resumable_uploads')
    .select(['id', 'status'])
    .where('created_at', '<', before)
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['uploading', 'failed']),
        eb.and([eb('status', '=', 'completing'), eb('updated_at', '<', stuckBefore)]),
      ]),
    )
    .orderBy('created_at')
    .limit(limit)
    .execute();
}

/** Finished uploads whose media item has since been deleted: nothing is left for them to point to. */
export async function deleteOrphanedDone(db: Database, before: Date): Promise<number> {
  const result = await db
    .deleteFrom('resumable_uploads')
    .where('status', '=', 'done')
    .where('media_id', 'is', null)
    .where('created_at', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
