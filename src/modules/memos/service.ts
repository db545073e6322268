import type { Database } from '#platform/db/database.ts';
import { errors } from '#http/errors.ts';
import { decodeCursor, toPage, type Page } from '#http/pagination.ts';
import { newId } from '#db/ids.ts';
import type { Memo } from './schemas.ts';
import * as store from './store.ts';
import type { MemoRow } from './store.ts';

export type MemoQuery = { limit: number; cursor?: string | undefined; q?: string | undefined };

export type MemosService = ReturnType<typeof createMemosService>;

/** Private notes: every operation is scoped to the owner, and anyone else's memo simply does not exist. */
export function createMemosService(deps: { db: Database }) {
  const { db } = deps;

  return {
    async create(userId: string, text: string): Promise<Memo> {
      const now = new Date();
      const row = await store.insertMemo(db, {
        id: newId(now.getTime()),
        user_id: userId,
        text,
        created_at: now,
        updated_at: now,
      });
      return toMemo(row);
    },

    async list(userId: string, query: MemoQuery): Promise<Page<Memo>> {
      const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 1)[0];
      const rows = await store.listMemos(db, {
        userId,
        limit: query.limit + 1,
        beforeId,
        search: query.q === undefined || query.q === '' ? undefined : query.q,
      });
      return toPage(rows, query.limit, (row) => [row.id], toMemo);
    },

    async get(userId: string, id: string): Promise<Memo> {
      const row = await store.findMemo(db, userId, id);
      if (row === undefined) throw errors.notFound('memo');
      return toMemo(row);
    },

    async update(userId: string, id: string, text: string): Promise<Memo> {
      const row = await store.updateMemoText(db, userId, id, text, new Date());
      if (row === undefined) throw errors.notFound('memo');
      return toMemo(row);
    },

    async remove(userId: string, id: string): Promise<void> {
      if (!(await store.deleteMemo(db, userId, id))) throw errors.notFound('memo');
    },
  };
}

function toMemo(row: MemoRow): Memo {
  return {
    id: row.id,
    text: row.text,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
