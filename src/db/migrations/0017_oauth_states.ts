import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Web sign-ins under way (written by auth's social store only): one row per authorize, deleted by
  // the callback that uses it, or swept after `expires_at`. The state and the browser's cookie are
  // kept as SHA-256 hashes, so the table alone cannot complete anyone's sign-in.
  await db.schema
    .createTable('oauth_states')
    .addColumn('state_hash', 'text', (col) => col.primaryKey())
    .addColumn('browser_hash', 'text', (col) => col.notNull())
    .addColumn('provider', 'text', (col) => col.notNull())
    .addColumn('redirect_uri', 'text', (col) => col.notNull())
    .addColumn('code_verifier', 'text', (col) => col.notNull())
    .addColumn('nonce', 'text', (col) => col.notNull())
    // The signed-in user a `?link=true` flow links the provider to, and the session that started it
    // (the link is refused if it ended meanwhile); both null for a sign-in.
    .addColumn('link_user_id', 'text', (col) => col.references('users.id').onDelete('cascade'))
    .addColumn('link_session_id', 'text')
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('oauth_states_expires_at').on('oauth_states').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('oauth_states').execute();
}
