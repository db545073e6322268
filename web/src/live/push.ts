import { api, problemOf } from '../api/client.ts';
import type { Problem } from '../api/types.ts';

/**
 * Web Push in this browser (docs/push.md): the service worker (/sw.js, which shows each push and opens
 * its page on a click), and this browser's subscription at Plaza. The worker is told the language to
 * write notifications in through its URL, since a worker cannot read the page's choice.
 */

export function pushSupported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

export function registerServiceWorker(locale: string): Promise<ServiceWorkerRegistration> {
  return navigator.serviceWorker.register(`/sw.js?locale=${encodeURIComponent(locale)}`, { scope: '/', updateViaCache: 'none' });
}

export async function currentSubscription(): Promise<PushSubscription | null> {
  const registration = await navigator.serviceWorker.getRegistration('/');
  return (await registration?.pushManager.getSubscription()) ?? null;
}

/** Why subscribing did not happen: Plaza's problem, the user's refusal, or the browser's push subscription failing. */
export type PushFailure = { problem: Problem } | { denied: true } | { browser: string };

/** Asks for permission, subscribes with Plaza's VAPID key and gives Plaza the subscription. */
export async function subscribeToPush(locale: string): Promise<PushFailure | null> {
  // The key first: a server without push (503 push_unavailable) should not make the browser ask.
  const key = await api.GET('/v1/push/vapid-key');
  if (key.data === undefined) return { problem: problemOf(key.error, key.response) };
  if ((await Notification.requestPermission()) !== 'granted') return { denied: true };
  const registration = await registerServiceWorker(locale);
  await navigator.serviceWorker.ready;
  let subscription: PushSubscription;
  try {
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key.data.publicKey });
  } catch (error) {
    return { browser: error instanceof Error ? error.message : String(error) };
  }
  return postSubscription(subscription);
}

export async function postSubscription(subscription: PushSubscription): Promise<PushFailure | null> {
  const json = subscription.toJSON();
  const body = { endpoint: json.endpoint ?? '', expirationTime: json.expirationTime ?? null, keys: { p256dh: json.keys?.p256dh ?? '', auth: json.keys?.auth ?? '' } };
  const { error, response } = await api.POST('/v1/push/subscriptions', { body });
  return response.ok ? null : { problem: problemOf(error, response) };
}

/** Stops pushes to this browser: at Plaza (while the session still lasts) and in the browser. */
export async function unsubscribeFromPush(): Promise<void> {
  const subscription = await currentSubscription();
  if (subscription === null) return;
  await api.DELETE('/v1/push/subscriptions', { body: { endpoint: subscription.endpoint } }).catch(() => undefined);
  await subscription.unsubscribe();
}

/**
 * On each start of the app with a session: a subscription this browser already has is posted again
 * (docs/push.md: it then counts as registered now, and moves to whoever is signed in).
 */
export async function renewPushSubscription(locale: string): Promise<void> {
  if (!pushSupported() || Notification.permission !== 'granted') return;
  await registerServiceWorker(locale);
  const subscription = await currentSubscription();
  if (subscription !== null) await postSubscription(subscription);
}

/** Before signing out: this browser stops hearing of the account (a shared computer's next user would otherwise). */
export async function forgetPushSubscription(): Promise<void> {
  if (pushSupported()) await unsubscribeFromPush().catch(() => undefined);
}
