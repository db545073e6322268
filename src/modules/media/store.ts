import { sql, type Insertable, type Selectable } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import type { MediaKind } from './sniff.ts';
import type { MediaPurpose, MediaTable, StoredVariant, VariantName } from './tables.ts';

export type MediaRow = Selectable<MediaTable>;

export type ProcessedFields = {
  width?: number | undefined;
  height?: number | undefined;
  durationMs?: number | undefined;
  blurhash?: string | undefined;
  waveform?: number[] | undefined;
  variants: Partial<Record<VariantName, StoredVariant>>;
  /** What the item turned out to be, when reading it whole corrected what its head suggested. */
  retyped?: { kind: MediaKind; contentType: string } | undefined;
};

export async function insertMedia(db: Database, row: Insertable<MediaTable>): Promise<MediaRow> {
  return db.insertInto('media').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findMedia(db: Database, id: string): Promise<MediaRow | undefined> {
  return db.selectFrom('media').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findOwnMedia(
  db: Database,
  ownerId: string,
  purpose: MediaPurpose,
  id: string,
): Promise<MediaRow | undefined> {
  return db
    .selectFrom('media')
    .selectAll()
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .where('purpose', '=', purpose)
    .executeTakeFirst();
}

/** One keyset page of an owner's items of one purpose, newest first. */
export async function listOwnMedia(
  db: Database,
  query: { ownerId: string; purpose: MediaPurpose; limit: number; beforeId?: string | undefined },
): Promise<MediaRow[]> {
  let select = db
    .selectFrom('media')
    .selectAll()
    .where('owner_id', '=', query.ownerId)
    .where('purpose', '=', query.purpose);
  if (query.beforeId !== undefined) select = select.where('id', '<', query.beforeId);
  return select.orderBy('id', 'desc').limit(query.limit).execute();
}

/** Bytes of originals an owner stores now. */
export async function storageUsed(db: Database, ownerId: string): Promise<number> {
  const row = await db
    .selectFrom('media')
    .select(sql<string>`coalesce(sum(size), 0)`.as('used'))
    .where('owner_id', '=', ownerId)
    .executeTakeFirstOrThrow();
  return Number(row.used);
}

/**
 * What a new upload must fit beside in the owner's quota: the bytes of their originals, and what
 * their resumable uploads still receiving bytes hold of it. The uploads module owns
 * `resumable_uploads`; it is read here (read only) in a subquery, so the check under the owner's
 * lock stays one statement and media needs nothing from uploads, which depends on media. An upload
 * being completed (`completing`) is left out: its bytes are becoming a media item, and this check
 * is that item's, which then counts as stored.
 */
export async function quotaTaken(db: Database, ownerId: string): Promise<number> {
  const held = db
    .selectFrom('resumable_uploads')
    .select(sql<string>`coalesce(sum(reserved_bytes), 0)`.as('held'))
    .where('owner_id', '=', ownerId)
    .where('status', '=', 'uploading');
  const row = await db
    .selectFrom('media')
    .select(sql<string>`coalesce(sum(size), 0) + ${held}`.as('taken'))
    .where('owner_id', '=', ownerId)
    .executeTakeFirstOrThrow();
  return Number(row.taken);
}

/** Records the outcome of processing; false when the item was deleted meanwhile or already settled. */
export async function markReady(db: Database, id: string, fields: ProcessedFields, at: Date): Promise<boolean> {
  const result = await db
    .updateTable('media')
    .set({
      status: 'ready',
      ...(fields.retyped !== undefined && { kind: fields.retyped.kind, content_type: fields.retyped.contentType }),
      width: fields.width ?? null,
      height: fields.height ?? null,
      duration_ms: fields.durationMs ?? null,
      blurhash: fields.blurhash ?? null,
      waveform: fields.waveform === undefined ? null : JSON.stringify(fields.waveform),
      variants: JSON.stringify(fields.variants),
      updated_at: at,
    })
    .where('id', '=', id)
    .where('status', '=', 'processing')
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Adds one variant to a ready item; false when the item was deleted meanwhile. */
export async function addVariant(db: Database, id: string, name: VariantName, variant: StoredVariant, at: Date): Promise<boolean> {
  const result = await db
    .updateTable('media')
    .set({ variants: sql`variants || jsonb_build_object(${name}::text, ${JSON.stringify(variant)}::jsonb)`, updated_at: at })
    .where('id', '=', id)
    .where('status', '=', 'ready')
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Ready items for posts that have no variant `name` yet, in id order after `afterId`. */
export async function readyWithout(db: Database, name: VariantName, query: { afterId: string | undefined; limit: number }): Promise<string[]> {
  let select = db
    .selectFrom('media')
    .select('id')
    .where('purpose', '=', 'post')
    .where('status', '=', 'ready')
    .where(sql<boolean>`not (variants ? ${name})`);
  if (query.afterId !== undefined) select = select.where('id', '>', query.afterId);
  const rows = await select.orderBy('id').limit(query.limit).execute();
  return rows.map((row) => row.id);
}

/** Items still `processing`, in id order after `afterId` (found through media_processing). */
export async function stillProcessing(db: Database, query: { afterId: string | undefined; limit: number }): Promise<string[]> {
  let select = db.selectFrom('media').select('id').where('status', '=', 'processing');
  if (query.afterId !== undefined) select = select.where('id', '>', query.afterId);
  const rows = await select.orderBy('id').limit(query.limit).execute();
  return rows.map((row) => row.id);
}

export async function markFailed(db: Database, id: string, failure: string, at: Date): Promise<void> {
  await db
    .updateTable('media')
    .set({ status: 'failed', failure, updated_at: at })
    .where('id', '=', id)
    .where('status', '=', 'processing')
    .execute();
}

/**
 * Whether item `m` is in a post that a buyer with an account holds: read-only looks into posts'
 * post_media, wallet's purchases and accounts' users, in the same query. Such an item stays.
 */
const soldIn = sql<boolean>`exists (
  select 1 from post_media pm join purchases pu on pu.post_id = pm.post_id join users b on b.id = pu.buyer_id
  where pm.media_id = m.id)`;

/** Whether item `m` is in any post (a read-only look into posts' post_media). */
const inAnyPost = sql<boolean>`exists (select 1 from post_media pm where pm.media_id = m.id)`;

/** Deletes an owner's item, unless a post its buyers hold shows it (`sold`: the row stays). */
export async function deleteOwnMedia(
  db: Database,
  ownerId: string,
  purpose: MediaPurpose,
  id: string,
): Promise<MediaRow | 'sold' | undefined> {
  const row = await db
    .deleteFrom('media as m')
    .where('m.id', '=', id)
    .where('m.owner_id', '=', ownerId)
    .where('m.purpose', '=', purpose)
    .where(sql<boolean>`not ${soldIn}`)
    .returningAll()
    .executeTakeFirst();
  if (row !== undefined) return row;
  return (await findOwnMedia(db, ownerId, purpose, id)) === undefined ? undefined : 'sold';
}

/**
 * An owner's account is going: deletes their items but those still in a post (by then only
 * withdrawn posts their buyers hold are left), and answers the ids of those kept.
 */
export async function deleteOwnerMedia(db: Database, ownerId: string): Promise<string[]> {
  await db.deleteFrom('media as m').where('m.owner_id', '=', ownerId).where(sql<boolean>`not ${inAnyPost}`).execute();
  const kept = await db.selectFrom('media').select('id').where('owner_id', '=', ownerId).execute();
  return kept.map((row) => row.id);
}

/** Deletes these items where their owner's account is gone and no post shows them any more; answers those deleted. */
export async function deleteOrphans(db: Database, ids: readonly string[]): Promise<{ ownerId: string; id: string }[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .deleteFrom('media as m')
    .where('m.id', 'in', ids)
    // Read-only look into accounts' users.
    .where(sql<boolean>`not exists (select 1 from users u where u.id = m.owner_id) and not ${inAnyPost}`)
    .returning(['m.owner_id', 'm.id'])
    .execute();
  return rows.map((row) => ({ ownerId: row.owner_id, id: row.id }));
}

/** Which of these (owner, id) pairs still have a row (for the sweeper). */
export async function existingMedia(
  db: Database,
  items: readonly { ownerId: string; id: string }[],
): Promise<{ ownerId: string; id: string }[]> {
  if (items.length === 0) return [];
  const rows = await db
    .selectFrom('media')
    .select(['owner_id', 'id'])
    .where('id', 'in', items.map((item) => item.id))
    .execute();
  return rows.map((row) => ({ ownerId: row.owner_id, id: row.id }));
}

export async function findMediaByIds(db: Database, ids: readonly string[]): Promise<MediaRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('media').selectAll().where('id', 'in', ids).execute();
}
