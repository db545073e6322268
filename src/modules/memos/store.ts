import type { Insertable, Selectable } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import type { MemosTable } from './tables.ts';

export type MemoRow = Selectable<MemosTable>;

export async function insertMemo(db: Database, memo: Insertable<MemosTable>): Promise<MemoRow> {
  return db.insertInto('memos').values(memo).returningAll().executeTakeFirstOrThrow();
}

export async function findMemo(db: Database, userId: string, id: string): Promise<MemoRow | undefined> {
  return db.selectFrom('memos').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

/** One keyset page of a user's memos, newest first: `limit` rows older than `beforeId`. */
export async function listMemos(
  db: Database,
  query: { userId: string; limit: number; beforeId?: string | undefined; search?: string | undefined },
): Promise<MemoRow[]> {
  let select = db.selectFrom('memos').selectAll().where('user_id', '=', query.userId);
  if (query.beforeId !== undefined) select = select.where('id', '<', query.beforeId);
  if (query.search !== undefined) select = select.where('text', 'ilike', `%${escapeLike(query.search)}%`);
  return select.orderBy('id', 'desc').limit(query.limit).execute();
}

export async function updateMemoText(
  db: Database,
  userId: string,
  id: string,
  text: string,
  at: Date,
): Promise<MemoRow | undefined> {
  return db
    .updateTable('memos')
    .set({ text, updated_at: at })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteMemo(db: Database, userId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('memos').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Makes `%`, `_` and `\` in user text match themselves in a LIKE pattern. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}
