import { useCallback } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import type { Page, Post } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { NewPosts } from '../live/new-posts.tsx';
import { PostCard } from './post-card.tsx';
import { usePagedList } from './use-paged-list.ts';

const PAGE_SIZE = 20;

export type TimelineSource = '/v1/timelines/home' | '/v1/timelines/public' | '/v1/library';

/** A timeline of posts with infinite scroll (and a button doing the same, for keyboards and screen readers); the home one shows live arrivals. */
export function Timeline({ source, empty }: { source: TimelineSource; empty: string }) {
  const { t } = useI18n();
  const fetchPage = useCallback(
    async (cursor: string | undefined): Promise<Page<Post>> => {
      const { data, error, response } = await api.GET(source, { params: { query: { limit: PAGE_SIZE, ...(cursor !== undefined && { cursor }) } } });
      if (data === undefined) throw problemOf(error, response);
      return data;
    },
    [source],
  );
  const list = usePagedList(fetchPage);
  const replace = (post: Post) => list.setItems((posts) => posts.map((each) => (each.id === post.id ? post : each)));
  const remove = (post: Post) => list.setItems((posts) => posts.filter((each) => each.id !== post.id));
  return (
    <div class="timeline">
      {source === '/v1/timelines/home' && <NewPosts shown={list.items} onShow={(posts) => list.setItems((shown) => [...posts, ...shown])} />}
      <ol class="posts" aria-busy={list.loading}>
        {list.items.map((post) => (
          <li key={post.id}>
            <PostCard post={post} onChange={replace} onDelete={remove} />
          </li>
        ))}
      </ol>
      {list.done && <p class="muted">{list.items.length === 0 ? empty : t('timeline.end')}</p>}
      {list.problem !== null && (
        <p class="error" role="alert">
          {problemMessage(list.problem, t)}{' '}
          <button type="button" onClick={() => void list.loadMore()}>
            {t('timeline.retry')}
          </button>
        </p>
      )}
      {!list.done && list.problem === null && (
        <div ref={list.sentinel}>
          <button type="button" class="secondary" disabled={list.loading} onClick={() => void list.loadMore()}>
            {list.loading ? t('app.loading') : t('timeline.loadMore')}
          </button>
        </div>
      )}
    </div>
  );
}
