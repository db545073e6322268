import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('media')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('owner_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    // What the upload is for: an item to attach to posts, or an entry in the recorder app's list.
    .addColumn('purpose', 'text', (col) => col.notNull().check(sql`purpose in ('post', 'recording')`))
    .addColumn('kind', 'text', (col) => col.notNull().check(sql`kind in ('image', 'audio', 'video')`))
    .addColumn('content_type', 'text', (col) => col.notNull())
    .addColumn('size', 'bigint', (col) => col.notNull())
    .addColumn('file_name', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('processing', 'ready', 'failed')`))
    .addColumn('failure', 'text')
    .addColumn('width', 'integer')
    .addColumn('height', 'integer')
    .addColumn('duration_ms', 'bigint')
    .addColumn('blurhash', 'text')
    .addColumn('waveform', 'jsonb')
    // name → { contentType, size } of each derived file (thumbnail, small, large); its key follows from the id.
    .addColumn('variants', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull())
    .execute();
  // "My recordings, newest first" and the quota sum both start from the owner.
  await db.schema.createIndex('media_owner_purpose_id').on('media').columns(['owner_id', 'purpose', 'id']).execute();

  await db.schema.alterTable('users').addColumn('avatar_id', 'text').execute();

  // tus uploads in progress: whose they are, and what became of them. The status lets only one
  // request turn an upload's bytes into a media item (a second final PATCH, or another instance,
  // sees `completing`); `failure` keeps the problem a refused upload was answered with.
  await db.schema
    .createTable('resumable_uploads')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('owner_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('media_id', 'text', (col) => col.references('media.id').onDelete('set null'))
    .addColumn('status', 'text', (col) =>
      col.notNull().defaultTo('uploading').check(sql`status in ('uploading', 'completing', 'done', 'failed')`),
    )
    .addColumn('length', 'bigint') // the declared Upload-Length; null while deferred
    .addColumn('failure', 'jsonb')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('resumable_uploads_owner').on('resumable_uploads').column('owner_id').execute();
  await db.schema.createIndex('resumable_uploads_created').on('resumable_uploads').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('resumable_uploads').execute();
  await db.schema.alterTable('users').dropColumn('avatar_id').execute();
  await db.schema.dropTable('media').execute();
}
