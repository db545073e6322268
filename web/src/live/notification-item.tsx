import type { MessageKey } from '../i18n/en.ts';
import { useI18n } from '../i18n/i18n.tsx';
import type { Notification } from './types.ts';

const SENTENCES: Record<Notification['type'], MessageKey> = {
  follow: 'notifications.follow',
  like: 'notifications.like',
  purchase: 'notifications.purchase',
  new_post: 'notifications.new_post',
};

/** Where a user's and a post's own pages are (routes.tsx). */
export const userPath = (handle: string) => `/u/${encodeURIComponent(handle)}`;
export const postPath = (id: string) => `/posts/${encodeURIComponent(id)}`;

/** One notification: who did what ("Lin liked your post"), linking to them and to the post, and when. */
export function NotificationItem({ notification }: { notification: Notification }) {
  const { t, locale } = useI18n();
  const { actor, post } = notification;
  const [before, after] = t(SENTENCES[notification.type]).split('{name}');
  const created = new Date(notification.createdAt);
  return (
    <article class={`notification${notification.read ? '' : ' unread'}`} data-notification-type={notification.type}>
      {actor.avatarUrl !== null ? <img class="avatar" src={actor.avatarUrl} alt="" width="40" height="40" loading="lazy" /> : <span class="avatar" aria-hidden="true" />}
      <div class="notification-body">
        <p class="notification-sentence">
          {!notification.read && <span class="badge notification-new">{t('notifications.new')}</span>} {before}
          <a href={userPath(actor.handle)}>
            <strong>{actor.name}</strong>
          </a>
          {after}
        </p>
        {post !== undefined && (
          <p class="notification-post">
            <a href={postPath(post.id)}>{post.text === '' ? t('post.pageTitle') : post.text}</a>
          </p>
        )}
        <time class="muted" dateTime={notification.createdAt}>
          {created.toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' })}
        </time>
      </div>
    </article>
  );
}
