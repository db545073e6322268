import { useEffect } from 'preact/hooks';
import { useAccount } from '../api/use-account.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { renewPushSubscription } from './push.ts';
import { useUnreadCount } from './unread-count.ts';
import './live.css';

/** Plaza counts up to 1,000 unread (docs/notifications.md). */
const COUNT_CAP = 1000;

/**
 * The unread count beside "Notifications" in the navigation, kept current by the live stream. Its
 * visible number is hidden from screen readers, which hear "3 unread" as part of the link's name.
 * Mounted for every signed-in page, it also renews this browser's push subscription once per session.
 */
export function UnreadBadge() {
  const { t, locale } = useI18n();
  const { account } = useAccount();
  const count = useUnreadCount();
  useEffect(() => {
    if (account !== null) void renewPushSubscription(locale).catch(() => undefined);
  }, [account?.id, locale]);
  if (count === null || count === 0) return null;
  const shown = count >= COUNT_CAP ? `${COUNT_CAP}+` : String(count);
  // The space keeps the link's name "Notifications 3 unread" rather than "Notifications3 unread".
  return (
    <>
      {' '}
      <span class="unread-badge" data-unread-count={count}>
        <span aria-hidden="true">{shown}</span>
        <span class="visually-hidden">{t('live.unread', { count: shown })}</span>
      </span>
    </>
  );
}
