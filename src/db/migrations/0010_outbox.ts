import { sql, type Kysely } from 'kysely';

/**
 * The transactional outbox (see src/platform/outbox): effects of a write, recorded in the write's own
 * transaction and deleted once a relay has handled them. Rows live seconds, so the table stays small.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('outbox_events')
    // Write order: the relay claims in id order, and events with one key are handled in it.
    .addColumn('id', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('topic', 'text', (col) => col.notNull())
    .addColumn('key', 'text')
    .addColumn('payload', 'jsonb', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    // Pushed back after a failed attempt (retry backoff).
    .addColumn('available_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('last_error', 'text')
    .execute();
  // The claim walks the primary key in id order (it wants the oldest ready rows, `order by id limit`);
  // this one answers its per-key check, "is an earlier event with this key still here?".
  await db.schema
    .createIndex('outbox_events_key_id')
    .on('outbox_events')
    .columns(['key', 'id'])
    .where(sql.ref('key'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('outbox_events').execute();
}
