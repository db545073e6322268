import { refreshSession } from '../api/client.ts';
import { accessToken, currentAccount, onAccountChange } from '../api/session.ts';
import type { Notification } from './types.ts';

/**
 * The live connection (docs/stream.md): one EventSource per signed-in tab to `GET /v1/stream`, opened
 * when a session starts and closed when it ends. Pages subscribe with `onLiveEvent` (or the hook in
 * use-live-event.ts) instead of opening streams of their own.
 *
 * EventSource reconnects by itself after a dropped connection, sending `Last-Event-ID`, so nothing is
 * missed. What it cannot do is change its URL: the token in `?access_token=` is fixed at creation. When
 * a reconnect is refused (the token expired meanwhile: a 401 closes the EventSource for good), this
 * module refreshes the session and opens a new one, passing the last id it saw as `?lastEventId=`.
 */

export type LiveEvent =
  | { type: 'post'; post: { id: string; authorId: string } }
  | { type: 'notification'; notification: Notification }
  /** Events were missed and cannot be replayed: whoever shows something fetches it again. */
  | { type: 'reset' };

const listeners = new Set<(event: LiveEvent) => void>();
let source: EventSource | null = null;
let openedFor: string | null = null;
let lastEventId: string | null = null;
let reopenTimer: ReturnType<typeof setTimeout> | undefined;
let failures = 0;

/** Calls `listener` with every live event of the signed-in user; returns the unsubscribe. */
export function onLiveEvent(listener: (event: LiveEvent) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(event: LiveEvent): void {
  for (const listener of listeners) listener(event);
}

function open(): void {
  close();
  const token = accessToken();
  if (token === null) return;
  const url = new URL('/v1/stream', location.origin);
  url.searchParams.set('access_token', token);
  if (lastEventId !== null) url.searchParams.set('lastEventId', lastEventId);
  const events = new EventSource(url);
  source = events;
  openedFor = currentAccount()?.id ?? null;
  const track = (event: MessageEvent) => {
    if (event.lastEventId !== '') lastEventId = event.lastEventId;
  };
  events.addEventListener('open', () => (failures = 0));
  events.addEventListener('post', (event) => {
    track(event);
    emit({ type: 'post', post: JSON.parse(event.data) });
  });
  events.addEventListener('notification', (event) => {
    track(event);
    emit({ type: 'notification', notification: JSON.parse(event.data) });
  });
  events.addEventListener('reset', (event) => {
    track(event);
    emit({ type: 'reset' });
  });
  // The server is going away: EventSource would come back with the token it was made with, which may
  // have expired by now. Reopen with the current one after the pause the server asked for (1.5–2.5 s).
  events.addEventListener('reconnect', () => reopenSoon(1500 + Math.random() * 1000, false));
  events.addEventListener('error', () => {
    // CONNECTING: EventSource is retrying on its own. CLOSED: it gave up (a refused reconnect).
    if (events.readyState === EventSource.CLOSED) reopenSoon(Math.min(60_000, 3000 * 2 ** failures++), true);
  });
}

function reopenSoon(delay: number, refreshFirst: boolean): void {
  close();
  reopenTimer = setTimeout(async () => {
    if (refreshFirst && !(await refreshSession())) return;
    if (accessToken() !== null) open();
  }, delay);
}

function close(): void {
  clearTimeout(reopenTimer);
  source?.close();
  source = null;
}

function follow(): void {
  const account = currentAccount();
  if (account === null) {
    close();
    openedFor = null;
    lastEventId = null;
    failures = 0;
  } else if (source === null || openedFor !== account.id) {
    // Someone else signed in: their stream starts from now, not from the last one's ids.
    if (openedFor !== account.id) lastEventId = null;
    open();
  }
}

onAccountChange(follow);
follow();
