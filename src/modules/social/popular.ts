import type { AccountsService } from '../accounts/service.ts';

/** How stale another instance's view of who is popular may get. */
export const POPULAR_REFRESH_MS = 10_000;

export type PopularUsers = ReturnType<typeof createPopularUsers>;

/**
 * The popular users, whose posts are merged into timelines when read instead of fanned out. A user
 * becomes popular above `above` followers and stays so until they fall below a tenth less (at least
 * 1): an account hovering at the line does not flip between the two, and each fall back is a
 * catch-up fan-out of their recent posts. The users' `popular` mark holds that state between the
 * two marks. They are few, and most deployments have none, so each instance keeps the list and
 * rereads it every POPULAR_REFRESH_MS, or at once when one of its own follows changes it.
 */
export function createPopularUsers(deps: { accounts: Pick<AccountsService, 'popularUserIds'>; above: number }) {
  const { above } = deps;
  const below = Math.max(1, above - Math.floor(above / 10));
  let cached: { ids: readonly string[]; readAt: number } | undefined;
  let reading: Promise<readonly string[]> | undefined;
  // A read that started before a change must not cache what it saw.
  let changes = 0;

  async function read(): Promise<readonly string[]> {
    const [readAt, before] = [Date.now(), changes];
    const ids = await deps.accounts.popularUserIds(above);
    if (changes === before) cached = { ids, readAt };
    return ids;
  }

  return {
    above,
    below,

    async ids(): Promise<readonly string[]> {
      if (cached !== undefined && Date.now() - cached.readAt < POPULAR_REFRESH_MS) return cached.ids;
      reading ??= read().finally(() => (reading = undefined));
      return reading;
    },

    /**
     * Whether a user is marked popular once a follow (`by` 1) or unfollow (-1) moved their count to
     * `followers`, given whether they were (`popular`).
     */
    markAfter(followers: number, by: 1 | -1, popular: boolean): boolean {
      if (Math.max(followers, followers - by) > above) return true;
      return followers < below ? false : popular;
    },

    /** A user's mark changed (committed). */
    changed(): void {
      cached = undefined;
      reading = undefined;
      changes += 1;
    },
  };
}
