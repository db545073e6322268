import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Home timelines filled on write (the embedded profile's feed store). post_id references no table
  // yet: posts come later, and may then add `references posts(id) on delete cascade` (the post_id
  // index below serves that cascade as well as removing a post from every feed). Post ids are ULIDs
  // compared as bytes ("C"), so their order is their age whatever the database's collation.
  await db.schema
    .createTable('home_feeds')
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('post_id', sql`text collate "C"`, (col) => col.notNull())
    .addColumn('author_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    // Pages of one feed, newest first, walk this key backwards.
    .addPrimaryKeyConstraint('home_feeds_pkey', ['user_id', 'post_id'])
    .execute();
  // Unfollowing removes one author from one feed.
  await db.schema.createIndex('home_feeds_user_author').on('home_feeds').columns(['user_id', 'author_id']).execute();
  await db.schema.createIndex('home_feeds_post').on('home_feeds').column('post_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('home_feeds').execute();
}
