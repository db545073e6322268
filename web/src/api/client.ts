import createClient from 'openapi-fetch';
import type { paths } from './schema';
import type { Problem, Session } from './types.ts';
import { accessToken, endSession, startSession, storedRefreshToken, whenRefreshDue, withRefreshLock } from './session.ts';

/**
 * The typed API client every page uses: `api.GET('/v1/timelines/home', { params: { query } })`.
 * Paths, parameters and answers are checked against schema.d.ts (Plaza's own /openapi.json).
 * It calls the API on the page's own origin (Plaza serves both; `npm run dev` proxies), or at
 * VITE_PLAZA_API_URL when built for a CDN; sends the access token, and after a 401 refreshes the
 * session once and repeats the request.
 */
export const API_ORIGIN: string = import.meta.env.VITE_PLAZA_API_URL ?? location.origin;

export const api = createClient<paths>({ baseUrl: API_ORIGIN, fetch: fetchWithSession });

/** Without the session: the refresh itself, which must not recurse into fetchWithSession. */
const bare = createClient<paths>({ baseUrl: API_ORIGIN });

let refreshing: Promise<boolean> | null = null;

async function fetchWithSession(request: Request): Promise<Response> {
  const token = accessToken();
  if (token === null) return fetch(request);
  const retry = request.clone();
  const answer = await fetch(withToken(request, token));
  if (answer.status !== 401) return answer;
  // Another request may have refreshed while this one was out: then its token is the one to use.
  if (accessToken() === token && !(await refreshSession())) return answer;
  return fetch(withToken(retry, accessToken() ?? ''));
}

function withToken(request: Request, token: string): Request {
  const headers = new Headers(request.headers);
  headers.set('authorization', `Bearer ${token}`);
  return new Request(request, { headers });
}

/**
 * Exchanges the stored refresh token for a new session; true when signed in afterwards. Concurrent
 * callers in this tab share one exchange, and tabs take turns (session.ts).
 */
export function refreshSession(): Promise<boolean> {
  refreshing ??= withRefreshLock(async () => {
    const token = storedRefreshToken();
    if (token === null) {
      if (accessToken() !== null) endSession();
      return false;
    }
    const { data, response } = await bare.POST('/v1/auth/refresh', { body: { refreshToken: token } });
    if (data !== undefined) {
      startSession(data as Session);
      return true;
    }
    // A 401 means the token is spent or revoked, unless another tab rotated it meanwhile; anything else
    // (offline, 429, 5xx) keeps it for the next try.
    if (response.status === 401 && storedRefreshToken() === token) endSession();
    return false;
  })
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

whenRefreshDue(() => void refreshSession());

/** Ends the session at Plaza and here; here even when Plaza cannot be reached. */
export async function signOut(): Promise<void> {
  const refreshToken = storedRefreshToken();
  endSession();
  if (refreshToken !== null) await bare.POST('/v1/auth/logout', { body: { refreshToken } }).catch(() => undefined);
}

/** An error answer as a problem document (every Plaza error is one), or a stand-in when there was none. */
export function problemOf(error: unknown, response: Response | undefined): Problem {
  if (typeof error === 'object' && error !== null && 'code' in error) return error as Problem;
  return { status: response?.status ?? 0, code: response === undefined ? 'network_error' : 'unexpected_answer' };
}
