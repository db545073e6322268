import { sql, type Kysely } from 'kysely';

/**
 * What each unfinished tus upload holds of its owner's quota (`reserved_bytes`): its declared
 * length, or for a deferred-length one the bytes received plus what the request writing it may still
 * add; `reserved_by` names that request, which settles the reservation to what arrived when it ends.
 * Uploads open now hold their declared length; deferred ones are counted from their next request.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('resumable_uploads')
    .addColumn('reserved_bytes', 'bigint', (col) => col.notNull().defaultTo(0))
    .addColumn('reserved_by', 'text')
    .execute();
  await db
    .updateTable('resumable_uploads')
    .set({ reserved_bytes: sql`length` })
    .where('length', 'is not', null)
    .where('status', 'in', ['uploading', 'completing'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('resumable_uploads').dropColumn('reserved_by').dropColumn('reserved_bytes').execute();
}
