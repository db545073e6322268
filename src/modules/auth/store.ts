import type { Insertable } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import type { RefreshTokensTable } from './tables.ts';

export async function insertSession(db: Database, session: { id: string; user_id: string; created_at: Date }) {
  await db.insertInto('auth_sessions').values(session).execute();
}

export async function insertRefreshToken(db: Database, token: Insertable<RefreshTokensTable>) {
  await db.insertInto('refresh_tokens').values(token).execute();
}

export async function findRefreshToken(db: Database, tokenHash: string) {
  return db
    .selectFrom('refresh_tokens')
    .innerJoin('auth_sessions', 'auth_sessions.id', 'refresh_tokens.session_id')
    .select([
      'refresh_tokens.session_id',
      'refresh_tokens.expires_at',
      'refresh_tokens.used_at',
      'auth_sessions.user_id',
      'auth_sessions.revoked_at',
    ])
    .where('refresh_tokens.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Marks a refresh token used; `false` when someone else used it first (a replay or a race). */
export async function markRefreshTokenUsed(db: Database, tokenHash: string, at: Date): Promise<boolean> {
  const result = await db
    .updateTable('refresh_tokens')
    .set({ used_at: at })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function revokeSession(db: Database, sessionId: string, at: Date): Promise<void> {
  await db
    .updateTable('auth_sessions')
    .set({ revoked_at: at })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .execute();
}

export async function revokeSessionsExcept(db: Database, userId: string, keepSessionId: string, at: Date) {
  await db
    .updateTable('auth_sessions')
    .set({ revoked_at: at })
    .where('user_id', '=', userId)
    .where('id', '!=', keepSessionId)
    .where('revoked_at', 'is', null)
    .execute();
}

export async function isSessionActive(db: Database, sessionId: string, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('auth_sessions')
    .select('id')
    .where('id', '=', sessionId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row !== undefined;
}

/** When the sign-in that opened this session happened (refreshing keeps it); undefined for a revoked or unknown one. */
export async function sessionStartedAt(db: Database, sessionId: string): Promise<Date | undefined> {
  const row = await db
    .selectFrom('auth_sessions')
    .select('created_at')
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row?.created_at;
}
