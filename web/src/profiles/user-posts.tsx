import { useCallback } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import type { Post } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { PostCard } from '../posts/post-card.tsx';
import { usePagedList } from '../posts/use-paged-list.ts';
import { PagedFooter } from './paged-footer.tsx';

const PAGE_SIZE = 20;

/** A user's posts, newest first, paged as the timelines are; `onDeleted` lets the profile recount. */
export function UserPosts({ handle, onDeleted }: { handle: string; onDeleted: () => void }) {
  const { t } = useI18n();
  const fetchPage = useCallback(
    async (cursor: string | undefined) => {
      const { data, error, response } = await api.GET('/v1/users/{handle}/posts', { params: { path: { handle }, query: { limit: PAGE_SIZE, ...(cursor !== undefined && { cursor }) } } });
      if (data === undefined) throw problemOf(error, response);
      return data;
    },
    [handle],
  );
  const list = usePagedList(fetchPage);
  const replace = (post: Post) => list.setItems((posts) => posts.map((each) => (each.id === post.id ? post : each)));
  const remove = (post: Post) => {
    list.setItems((posts) => posts.filter((each) => each.id !== post.id));
    onDeleted();
  };
  return (
    <div class="timeline">
      <ol class="posts" aria-busy={list.loading} aria-label={t('profile.posts')}>
        {list.items.map((post) => (
          <li key={post.id}>
            <PostCard post={post} onChange={replace} onDelete={remove} />
          </li>
        ))}
      </ol>
      <PagedFooter list={list} empty={t('profile.noPosts')} />
    </div>
  );
}
