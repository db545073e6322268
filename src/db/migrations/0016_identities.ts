import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A user's social sign-in methods (written by auth's social store only): one account at each
  // provider per user, and one user per account at a provider.
  await db.schema
    .createTable('identities')
    .addColumn('provider', 'text', (col) => col.notNull())
    .addColumn('subject', 'text', (col) => col.notNull())
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('email', 'text')
    .addColumn('email_verified', 'boolean', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addPrimaryKeyConstraint('identities_pkey', ['provider', 'subject'])
    .addUniqueConstraint('identities_user_provider_key', ['user_id', 'provider'])
    .execute();

  // Each ID token signs in once: its hash is kept until the token expires, then swept (by expires_at).
  await db.schema
    .createTable('used_id_tokens')
    .addColumn('token_hash', 'text', (col) => col.primaryKey())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('used_id_tokens_expires_at').on('used_id_tokens').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('used_id_tokens').execute();
  await db.schema.dropTable('identities').execute();
}
