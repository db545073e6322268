import type { Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';

type PagedList = { items: unknown[]; loading: boolean; done: boolean; problem: Problem | null; loadMore: () => Promise<void>; sentinel: (element: Element | null) => void };

/** Under a paged list: "nothing here", the end, a failed page with a retry, or the next page's button (also loaded on scrolling near it). */
export function PagedFooter({ list, empty }: { list: PagedList; empty: string }) {
  const { t } = useI18n();
  if (list.problem !== null) {
    return (
      <p class="error" role="alert">
        {problemMessage(list.problem, t)}{' '}
        <button type="button" onClick={() => void list.loadMore()}>
          {t('timeline.retry')}
        </button>
      </p>
    );
  }
  if (list.done) return <p class="muted">{list.items.length === 0 ? empty : t('people.end')}</p>;
  return (
    <div ref={list.sentinel}>
      <button type="button" class="secondary" disabled={list.loading} onClick={() => void list.loadMore()}>
        {list.loading ? t('app.loading') : t('timeline.loadMore')}
      </button>
    </div>
  );
}
