import type { Insertable } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import type { IdentitiesTable, OauthStatesTable } from '../tables.ts';

export async function findIdentity(db: Database, provider: string, subject: string) {
  return db
    .selectFrom('identities')
    .select(['user_id', 'email', 'email_verified'])
    .where('provider', '=', provider)
    .where('subject', '=', subject)
    .executeTakeFirst();
}

/** Inserts the identity unless that provider account is someone's already; `false` then. */
export async function insertIdentity(db: Database, identity: Insertable<IdentitiesTable>): Promise<boolean> {
  const result = await db
    .insertInto('identities')
    .values(identity)
    .onConflict((conflict) => conflict.constraint('identities_pkey').doNothing())
    .returning('subject')
    .executeTakeFirst();
  return result !== undefined;
}

export async function deleteIdentity(db: Database, userId: string, provider: string): Promise<boolean> {
  const result = await db.deleteFrom('identities').where('user_id', '=', userId).where('provider', '=', provider).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function providersOf(db: Database, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('identities').select('provider').where('user_id', '=', userId).execute();
  return rows.map((row) => row.provider);
}

/**
 * Records an ID token as used, and forgets those past their expiry; `false` when it was used
 * already (a replay, or the same token sent twice at once).
 */
export async function markIdTokenUsed(db: Database, tokenHash: string, expiresAt: Date, now: Date): Promise<boolean> {
  await db.deleteFrom('used_id_tokens').where('expires_at', '<', now).execute();
  const result = await db
    .insertInto('used_id_tokens')
    .values({ token_hash: tokenHash, expires_at: expiresAt })
    .onConflict((conflict) => conflict.column('token_hash').doNothing())
    .returning('token_hash')
    .executeTakeFirst();
  return result !== undefined;
}

/** Records a web sign-in's state until its callback, and forgets those that expired unused. */
export async function insertOauthState(db: Database, state: Insertable<OauthStatesTable>, now: Date): Promise<void> {
  await db.deleteFrom('oauth_states').where('expires_at', '<', now).execute();
  await db.insertInto('oauth_states').values(state).execute();
}

/** Takes a web sign-in's state, so that it serves one callback only (two at once: one of them gets it). */
export async function takeOauthState(db: Database, stateHash: string) {
  return db.deleteFrom('oauth_states').where('state_hash', '=', stateHash).returningAll().executeTakeFirst();
}
