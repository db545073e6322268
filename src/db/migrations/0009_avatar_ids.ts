import type { Kysely } from 'kysely';

/**
 * Profile image links are keyed by the image id (`/v1/avatars/{avatarId}`), which must find its user
 * without a scan and name at most one (ids are minted per upload, so existing rows already differ).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('users_avatar_id_key').unique().on('users').column('avatar_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('users_avatar_id_key').execute();
}
