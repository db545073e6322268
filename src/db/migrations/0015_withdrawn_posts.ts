import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A sold post its author deleted (the post, or their account): gone for everyone but its buyers,
  // who keep it while one of them has an account (see posts' store).
  await db.schema.alterTable('posts').addColumn('withdrawn_at', 'timestamptz').execute();
  // A sold post and its media outlive their author's account: posts and media delete an account's
  // rows themselves (their `releaseUser` and `forgetOwner`) and keep those its buyers still hold.
  await sql`alter table posts drop constraint posts_author_id_fkey`.execute(db);
  await sql`alter table media drop constraint media_owner_id_fkey`.execute(db);
  // Whether a post has buyers, asked on every deletion of a post or an account: purchases by post.
  await db.schema.createIndex('purchases_post_id').on('purchases').column('post_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('purchases_post_id').execute();
  await sql`delete from media m where not exists (select 1 from users u where u.id = m.owner_id)`.execute(db);
  await sql`delete from posts p where not exists (select 1 from users u where u.id = p.author_id)`.execute(db);
  await sql`alter table media add constraint media_owner_id_fkey foreign key (owner_id) references users (id) on delete cascade`.execute(db);
  await sql`alter table posts add constraint posts_author_id_fkey foreign key (author_id) references users (id) on delete cascade`.execute(db);
  await db.schema.alterTable('posts').dropColumn('withdrawn_at').execute();
}
