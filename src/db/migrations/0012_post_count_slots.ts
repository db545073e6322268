import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A user's posts count, spread over slots that each post adds to at random (see accounts' store):
  // concurrent posts by one author rarely wait on one row's lock, where `users.posts_count` made
  // every post wait for the one before it to commit. The count is the sum of the user's slots.
  await db.schema
    .createTable('user_post_counts')
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('slot', 'smallint', (col) => col.notNull())
    .addColumn('n', 'integer', (col) => col.notNull())
    .addPrimaryKeyConstraint('user_post_counts_pkey', ['user_id', 'slot'])
    .execute();
  await sql`insert into user_post_counts (user_id, slot, n) select id, 0, posts_count from users where posts_count <> 0`.execute(db);
  await db.schema.alterTable('users').dropColumn('posts_count').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('posts_count', 'integer', (col) => col.notNull().defaultTo(0)).execute();
  await sql`
    update users u set posts_count = greatest(c.n, 0)
    from (select user_id, sum(n)::int n from user_post_counts group by user_id) c
    where c.user_id = u.id`.execute(db);
  await db.schema.dropTable('user_post_counts').execute();
}
