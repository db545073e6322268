import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('memos')
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('id', 'text', (col) => col.notNull())
    .addColumn('text', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    // Every memo query names its owner. Keying by (owner, id) serves "my memos, newest first" and
    // its keyset pages straight from the primary key, and leaves no id-only index for the planner
    // to walk backwards through everyone's memos. Ids are ULIDs, unique on their own.
    .addPrimaryKeyConstraint('memos_pkey', ['user_id', 'id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('memos').execute();
}
