import { useCallback, useState } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import type { Page, Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { NotificationItem } from '../live/notification-item.tsx';
import { PushOptIn } from '../live/push-opt-in.tsx';
import type { Notification } from '../live/types.ts';
import { refreshUnreadCount, useUnreadCount } from '../live/unread-count.ts';
import { useLiveEvent } from '../live/use-live-event.ts';
import { usePagedList } from '../posts/use-paged-list.ts';

const PAGE_SIZE = 20;

/** Your notifications, newest first, with new ones arriving live; all or only unread; mark read; push opt-in. */
export default function Notifications() {
  const { t } = useI18n();
  const [unreadOnly, setUnreadOnly] = useState(false);
  // A reset (events missed) starts the list again from its newest page.
  const [generation, setGeneration] = useState(0);
  useLiveEvent((event) => event.type === 'reset' && setGeneration((value) => value + 1));
  return (
    <section class="page">
      <h1>{t('notifications.title')}</h1>
      <div class="notifications-toolbar">
        <div class="filter" role="group" aria-label={t('notifications.filter')}>
          <button type="button" aria-pressed={!unreadOnly} onClick={() => setUnreadOnly(false)}>
            {t('notifications.all')}
          </button>
          <button type="button" aria-pressed={unreadOnly} onClick={() => setUnreadOnly(true)}>
            {t('notifications.unread')}
          </button>
        </div>
      </div>
      <NotificationList key={`${unreadOnly}:${generation}`} unreadOnly={unreadOnly} />
      <PushOptIn />
    </section>
  );
}

function NotificationList({ unreadOnly }: { unreadOnly: boolean }) {
  const { t } = useI18n();
  const fetchPage = useCallback(
    async (cursor: string | undefined): Promise<Page<Notification>> => {
      const query = { limit: PAGE_SIZE, ...(unreadOnly && { unread: true }), ...(cursor !== undefined && { cursor }) };
      const { data, error, response } = await api.GET('/v1/notifications', { params: { query } });
      if (data === undefined) throw problemOf(error, response);
      return data;
    },
    [unreadOnly],
  );
  const list = usePagedList(fetchPage);
  useLiveEvent((event) => {
    if (event.type !== 'notification') return;
    const arrived = event.notification;
    // At least once: a notification sent twice is shown once.
    list.setItems((shown) => (shown.some((each) => each.id === arrived.id) ? shown : [arrived, ...shown]));
  });
  const unread = useUnreadCount();
  const [marking, setMarking] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  const markRead = async () => {
    const newest = list.items[0];
    if (newest === undefined) return;
    setMarking(true);
    setProblem(null);
    // Up to the newest shown: one that arrives meanwhile stays unread, as it should.
    const { error, response } = await api.POST('/v1/notifications/read', { body: { upTo: newest.id } });
    setMarking(false);
    if (!response.ok) return setProblem(problemOf(error, response));
    list.setItems((shown) => shown.map((each) => (each.id <= newest.id ? { ...each, read: true } : each)));
    await refreshUnreadCount();
  };

  const hasUnread = (unread ?? 0) > 0 || list.items.some((each) => !each.read);
  // One that arrived live before the first page came is in both.
  const shown = list.items.filter((each, index) => list.items.findIndex((other) => other.id === each.id) === index);
  return (
    <>
      {hasUnread && (
        <p>
          <button type="button" class="secondary" disabled={marking || list.items.length === 0} onClick={() => void markRead()}>
            {marking ? t('notifications.marking') : t('notifications.markRead')}
          </button>
        </p>
      )}
      {problem !== null && (
        <p class="error" role="alert">
          {problemMessage(problem, t)}
        </p>
      )}
      <ol class="notification-list" aria-busy={list.loading}>
        {shown.map((notification) => (
          <li key={notification.id}>
            <NotificationItem notification={notification} />
          </li>
        ))}
      </ol>
      {list.done && <p class="muted">{list.items.length === 0 ? t(unreadOnly ? 'notifications.emptyUnread' : 'notifications.empty') : t('notifications.end')}</p>}
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
    </>
  );
}
