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
  created_at: Date;
};

const COLUMNS = ['id', 'owner_id', 'media_id', 'status', 'length', 'failure', 'created_at'] as const;

function toRow(row: {
  id: string;
  owner_id: string;
  media_id: string | null;
  status: ResumableUploadStatus;
  length: string | number | null;
  failure: UploadFailure | null;
  created_at: Date;
}): UploadRow {
  return { ...row, length: row.length === null ? null : Number(row.length) };
}

export async function insertUpload(
  db: Database,
  row: { id: string; ownerId: string; length: number | undefined; now: Date },
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

/** Moves an upload from `from` to `to`; false when it was not in `from` (someone else got there first). */
export async function moveUpload(
  db: Database,
  id: string,
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
    .where('status', '=', from)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteUpload(db: Database, id: string): Promise<void> {
  await db.deleteFrom('resumable_uploads').where('id', '=', id).execute();
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
