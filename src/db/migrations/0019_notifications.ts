import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Whether the follower asked to hear of each new post of the followee (social's column).
  await db.schema.alterTable('follows').addColumn('notify', 'boolean', (col) => col.notNull().defaultTo(false)).execute();
  // A new post's notified followers: only the follows that asked, so a post of an author nobody asked costs one probe.
  await sql`create index follows_notify on follows (followee_id, follower_id) where notify`.execute(db);

  // What a user hears of (written by the notifications module only). A notification goes with its
  // recipient, its actor and its post (the foreign keys cascade), so none is left naming someone or
  // something gone.
  await db.schema
    .createTable('notifications')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('recipient_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('type', 'text', (col) => col.notNull().check(sql`type in ('follow', 'like', 'purchase', 'new_post')`))
    .addColumn('actor_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('post_id', 'text', (col) => col.references('posts.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('read_at', 'timestamptz')
    .addCheckConstraint('notifications_not_self', sql`recipient_id <> actor_id`)
    .addCheckConstraint('notifications_post', sql`(type = 'follow') = (post_id is null)`)
    .execute();
  // One notification per cause, however often its event is delivered (a follow has no post).
  await sql`create unique index notifications_cause on notifications (recipient_id, type, actor_id, post_id) nulls not distinct`.execute(db);
  // A recipient's list, newest first; their unread ones, listed and counted.
  await db.schema.createIndex('notifications_recipient').on('notifications').columns(['recipient_id', 'id']).execute();
  await sql`create index notifications_unread on notifications (recipient_id, id) where read_at is null`.execute(db);
  // Cascades and clean-ups by actor and by post.
  await db.schema.createIndex('notifications_actor').on('notifications').column('actor_id').execute();
  await sql`create index notifications_post on notifications (post_id) where post_id is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('notifications').execute();
  await db.schema.dropIndex('follows_notify').execute();
  await db.schema.alterTable('follows').dropColumn('notify').execute();
}
