import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/client.ts';
import { currentAccount, onAccountChange } from '../api/session.ts';
import { onLiveEvent } from './live-events.ts';

/**
 * The signed-in user's unread notification count, shared by the badge and the notifications page:
 * read from `GET /v1/notifications/unread-count` when the session starts, when a notification arrives
 * live, after a reset, and when a page marks notifications read (`refreshUnreadCount`). It is read
 * again rather than counted here, so every tab and every cause (a like taken back removes an unread
 * one) ends up with Plaza's number. `null` while unknown.
 */

let count: number | null = null;
let latestRequest = 0;
let pending: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<(count: number | null) => void>();

function set(next: number | null): void {
  count = next;
  for (const listener of listeners) listener(count);
}

export async function refreshUnreadCount(): Promise<void> {
  const request = ++latestRequest;
  if (currentAccount() === null) return set(null);
  const { data } = await api.GET('/v1/notifications/unread-count').catch(() => ({ data: undefined }));
  // An older answer arriving after a newer one must not put back a stale count.
  if (data !== undefined && request === latestRequest && currentAccount() !== null) set(data.count);
}

/** A burst of notifications (many likes at once) is one request, shortly after the last. */
function refreshSoon(): void {
  clearTimeout(pending);
  pending = setTimeout(() => void refreshUnreadCount(), 250);
}

export function useUnreadCount(): number | null {
  const [value, setValue] = useState(count);
  useEffect(() => {
    listeners.add(setValue);
    setValue(count);
    return () => void listeners.delete(setValue);
  }, []);
  return value;
}

let countedFor: string | null = null;
onAccountChange((account) => {
  if ((account?.id ?? null) === countedFor) return;
  countedFor = account?.id ?? null;
  void refreshUnreadCount();
});
onLiveEvent((event) => event.type !== 'post' && refreshSoon());
if (currentAccount() !== null) {
  countedFor = currentAccount()!.id;
  void refreshUnreadCount();
}
