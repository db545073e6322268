import { useCallback } from 'preact/hooks';
import { problemOf } from '../api/client.ts';
import type { Page, User } from '../api/types.ts';
import { usePagedList } from '../posts/use-paged-list.ts';
import { Avatar } from './avatar.tsx';
import { PagedFooter } from './paged-footer.tsx';

const PAGE_SIZE = 20;

export type UserPageFetch = (query: { limit: number; cursor?: string }) => Promise<{ data?: Page<User>; error?: unknown; response: Response }>;

/** A paged list of people (likers, followers), each linking to their profile. */
export function UserList({ fetch, empty, label }: { fetch: UserPageFetch; empty: string; label: string }) {
  const fetchPage = useCallback(
    async (cursor: string | undefined) => {
      const { data, error, response } = await fetch({ limit: PAGE_SIZE, ...(cursor !== undefined && { cursor }) });
      if (data === undefined) throw problemOf(error, response);
      return data;
    },
    [fetch],
  );
  const list = usePagedList(fetchPage);
  return (
    <div>
      <ul class="user-list" aria-label={label} aria-busy={list.loading}>
        {list.items.map((user) => (
          <li key={user.id}>
            <Avatar user={user} />
            <a href={`/u/${encodeURIComponent(user.handle)}`}>
              <strong>{user.name}</strong> <span class="muted">@{user.handle}</span>
            </a>
          </li>
        ))}
      </ul>
      <PagedFooter list={list} empty={empty} />
    </div>
  );
}
