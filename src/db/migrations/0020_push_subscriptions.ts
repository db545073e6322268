import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // The browsers (and devices) a user asked to be pushed to, written by the push module only. An
  // endpoint is one browser's subscription, so it is one row, held by one user at a time.
  await db.schema
    .createTable('push_subscriptions')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('endpoint', 'text', (col) => col.notNull().unique())
    .addColumn('p256dh', 'text', (col) => col.notNull())
    .addColumn('auth', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    // Refreshed by each subscribe: a user past the limit loses the one least recently registered.
    .addColumn('registered_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('push_subscriptions_user').on('push_subscriptions').columns(['user_id', 'registered_at']).execute();

  // Coalescing windows, one per (recipient, type, post; '' for a follow): a push opens one, and what
  // comes while it is open is only counted (`held`), pushed once as a count when it closes. In the
  // database so that every instance sees the same windows.
  await db.schema
    .createTable('push_windows')
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('subject_id', 'text', (col) => col.notNull())
    .addColumn('ends_at', 'timestamptz', (col) => col.notNull())
    .addColumn('held', 'integer', (col) => col.notNull())
    // The latest held notification's push payload, sent with the count when the window closes.
    .addColumn('latest', 'jsonb')
    .addPrimaryKeyConstraint('push_windows_pkey', ['user_id', 'type', 'subject_id'])
    .execute();
  await db.schema.createIndex('push_windows_ends_at').on('push_windows').column('ends_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('push_windows').execute();
  await db.schema.dropTable('push_subscriptions').execute();
}
