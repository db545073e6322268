import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('posts')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('author_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('text', 'text', (col) => col.notNull())
    .addColumn('visibility', 'text', (col) => col.notNull().check(sql`visibility in ('public', 'followers')`))
    .addColumn('price_coins', 'integer', (col) => col.notNull().defaultTo(0).check(sql`price_coins between 0 and 1000000`))
    // Kept by the like/unlike statements in the same transaction as the like row, so it stays exact.
    .addColumn('like_count', 'integer', (col) => col.notNull().defaultTo(0).check(sql`like_count >= 0`))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .execute();
  // An author's posts, newest first; the public main page walks only public posts.
  await db.schema.createIndex('posts_author_id').on('posts').columns(['author_id', 'id']).execute();
  await sql`create index posts_public_id on posts (id) where visibility = 'public'`.execute(db);

  await db.schema
    .createTable('post_media')
    .addColumn('post_id', 'text', (col) => col.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('position', 'integer', (col) => col.notNull())
    .addColumn('media_id', 'text', (col) => col.notNull().references('media.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('post_media_pkey', ['post_id', 'position'])
    .execute();
  await db.schema.createIndex('post_media_media').on('post_media').column('media_id').execute();

  await db.schema
    .createTable('post_likes')
    .addColumn('post_id', 'text', (col) => col.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addPrimaryKeyConstraint('post_likes_pkey', ['post_id', 'user_id'])
    .execute();
  await db.schema.createIndex('post_likes_by_time').on('post_likes').columns(['post_id', 'created_at', 'user_id']).execute();
  await db.schema.createIndex('post_likes_user').on('post_likes').column('user_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('post_likes').execute();
  await db.schema.dropTable('post_media').execute();
  await db.schema.dropTable('posts').execute();
}
