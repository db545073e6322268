import type { Account, Session } from './types.ts';

/**
 * The signed-in session: tokens, the account, and their refresh.
 *
 * Where the tokens live, and why:
 * - the access token (minutes) only in this module's memory: never written anywhere script-readable
 *   that outlives the page, so a leaked copy expires on its own;
 * - the refresh token in localStorage, so a reload or a new tab stays signed in. The API takes it in a
 *   JSON body (no cookie flow exists to make it HttpOnly), so some script-readable store is the only
 *   choice; what makes that defensible is that nothing but our own bundle can run on this origin
 *   (Plaza's CSP: `script-src 'self'`, no inline script, no third-party code) and that a refresh token
 *   is single-use: if one were stolen and used, the owner's next refresh presents a rotated token and
 *   Plaza revokes the whole session family, signing the thief out too.
 *
 * Refreshing (client.ts) happens ahead of expiry (the timer here) and after a 401, one at a time
 * across every request of every tab: a Web Lock serializes tabs, and inside it the token is read again
 * from storage, so a tab never presents a token another tab has already rotated (which would revoke
 * the session).
 */

const REFRESH_TOKEN_KEY = 'plaza.refreshToken';
const REFRESH_LOCK = 'plaza.refresh';
/** Refresh this long before the access token expires, so requests never carry an expired one. */
const REFRESH_AHEAD_SECONDS = 60;

type State = { account: Account; accessToken: string } | null;

let state: State = null;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<(account: Account | null) => void>();

export function currentAccount(): Account | null {
  return state?.account ?? null;
}

export function accessToken(): string | null {
  return state?.accessToken ?? null;
}

export function onAccountChange(listener: (account: Account | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Takes a session the API just issued (sign-up, sign-in, refresh, the social sign-in's return). */
export function startSession(session: Pick<Session, 'user' | 'accessToken' | 'refreshToken' | 'expiresIn'>): void {
  localStorage.setItem(REFRESH_TOKEN_KEY, session.refreshToken);
  state = { account: session.user, accessToken: session.accessToken };
  scheduleRefresh(session.expiresIn);
  notify();
}

export function updateAccount(account: Account): void {
  if (state === null) return;
  state = { ...state, account };
  notify();
}

/** Forgets the session here; the caller tells the API (POST /v1/auth/logout) first. */
export function endSession(): void {
  localStorage.removeItem(REFRESH_TOKEN_KEY);
  clearTimeout(refreshTimer);
  state = null;
  notify();
}

export function storedRefreshToken(): string | null {
  return localStorage.getItem(REFRESH_TOKEN_KEY);
}

let onRefreshDue: (() => void) | undefined;

/** What the timer calls when the access token is about to expire (set once by the client). */
export function whenRefreshDue(callback: () => void): void {
  onRefreshDue = callback;
}

function scheduleRefresh(expiresInSeconds: number): void {
  clearTimeout(refreshTimer);
  const delay = Math.max(5, expiresInSeconds - REFRESH_AHEAD_SECONDS) * 1000;
  refreshTimer = setTimeout(() => onRefreshDue?.(), delay);
}

/** Runs `work` while no other tab of this origin runs its own: refreshes go one at a time. */
export function withRefreshLock<T>(work: () => Promise<T>): Promise<T> {
  // Every browser Plaza supports has Web Locks; the fallback only keeps an old one working in one tab.
  return 'locks' in navigator ? (navigator.locks.request(REFRESH_LOCK, work) as Promise<T>) : work();
}

function notify(): void {
  for (const listener of listeners) listener(state?.account ?? null);
}

// Signed out in another tab: sign out here too.
addEventListener('storage', (event) => {
  if (event.key === REFRESH_TOKEN_KEY && event.newValue === null && state !== null) {
    clearTimeout(refreshTimer);
    state = null;
    notify();
  }
});
