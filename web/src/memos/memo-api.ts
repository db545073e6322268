import { api, problemOf } from '../api/client.ts';
import type { paths } from '../api/schema';
import type { Page } from '../api/types.ts';

export type Memo = paths['/v1/memos/{id}']['get']['responses'][200]['content']['application/json'];

/** API.md: a memo's text is 1 to 10,000 characters. */
export const MEMO_MAX_LENGTH = 10_000;
const PAGE_SIZE = 20;

/** One page of the caller's memos, newest first; `query` finds those containing it, ignoring case. */
export async function memoPage(query: string, cursor: string | undefined): Promise<Page<Memo>> {
  const { data, error, response } = await api.GET('/v1/memos', {
    params: { query: { limit: PAGE_SIZE, ...(query !== '' && { q: query }), ...(cursor !== undefined && { cursor }) } },
  });
  if (data === undefined) throw problemOf(error, response);
  return data;
}

export async function writeMemo(text: string): Promise<Memo> {
  const { data, error, response } = await api.POST('/v1/memos', { body: { text } });
  if (data === undefined) throw problemOf(error, response);
  return data;
}

export async function rewriteMemo(id: string, text: string): Promise<Memo> {
  const { data, error, response } = await api.PATCH('/v1/memos/{id}', { params: { path: { id } }, body: { text } });
  if (data === undefined) throw problemOf(error, response);
  return data;
}

export async function deleteMemo(id: string): Promise<void> {
  const { error, response } = await api.DELETE('/v1/memos/{id}', { params: { path: { id } } });
  if (!response.ok) throw problemOf(error, response);
}
