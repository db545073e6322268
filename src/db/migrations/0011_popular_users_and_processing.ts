import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Whether a user still counts as popular (their posts merged into timelines when read, not fanned
  // out) after dropping back to FANOUT_MAX_FOLLOWERS or below: set once they pass it, cleared only
  // once they fall a tenth below it, so an account hovering at the line does not flap. Few users
  // ever have it: the partial index lists them without a scan.
  await db.schema.alterTable('users').addColumn('popular', 'boolean', (col) => col.notNull().defaultTo(false)).execute();
  await db.schema.createIndex('users_popular').on('users').column('id').where(sql.ref('popular'), '=', true).execute();
  // At start-up the items still processing are enqueued again (an in-process queue loses its jobs
  // in a crash): found without a scan.
  await db.schema.createIndex('media_processing').on('media').column('id').where(sql.ref('status'), '=', 'processing').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('media_processing').execute();
  await db.schema.dropIndex('users_popular').execute();
  await db.schema.alterTable('users').dropColumn('popular').execute();
}
