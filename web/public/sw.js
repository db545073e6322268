// Plaza's service worker: shows each Web Push (docs/push.md "What a push carries") as a notification
// and opens the page it is about when clicked. It handles no fetches: the app works as without it.
// The page registers it as /sw.js?locale=en|ko, the language the notifications are written in.

const MESSAGES = {
  en: {
    follow: '{who} followed you',
    like: '{who} liked your post',
    purchase: '{who} bought your post',
    new_post: '{who} posted',
    one: '{name}',
    others: '{name} and {count} more',
  },
  ko: {
    follow: '{who}이 나를 팔로우했습니다',
    like: '{who}이 내 게시물을 좋아합니다',
    purchase: '{who}이 내 게시물을 구매했습니다',
    new_post: '{who}이 새 게시물을 올렸습니다',
    one: '{name}님',
    others: '{name}님 외 {count}명',
  },
};

const locale = new URL(self.location.href).searchParams.get('locale') === 'ko' ? 'ko' : 'en';
const messages = MESSAGES[locale];

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => String(values[name] ?? whole));
}

/** The client page a push is about: the post, else the person who followed, else the list. */
function pageOf(push) {
  if (push.post?.id) return `/posts/${encodeURIComponent(push.post.id)}`;
  if (push.type === 'follow' && push.actor?.handle) return `/u/${encodeURIComponent(push.actor.handle)}`;
  return '/notifications';
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let push;
  try {
    push = event.data.json();
  } catch {
    return;
  }
  const name = push.actor?.name ?? '';
  const who = fill(push.count > 1 ? messages.others : messages.one, { name, count: push.count - 1 });
  const title = fill(messages[push.type] ?? messages.new_post, { who });
  event.waitUntil(
    self.registration.showNotification(title, {
      body: push.post?.text ?? '',
      // One notification per type and post: a coalesced push replaces the one before it.
      tag: `${push.type}:${push.post?.id ?? push.actor?.id ?? ''}`,
      icon: '/favicon.svg',
      data: { url: pageOf(push) },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url ?? '/notifications', self.location.origin).href;
  event.waitUntil(openPage(url));
});

/** A Plaza tab already open goes to the page; without one, a new window opens there. */
async function openPage(url) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const client of windows) {
    if (new URL(client.url).origin !== self.location.origin) continue;
    try {
      const navigated = await client.navigate(url);
      await (navigated ?? client).focus();
      return;
    } catch {
      // Not controlled by this worker (opened before it activated): a new window instead.
    }
  }
  await self.clients.openWindow(url);
}
