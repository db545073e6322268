import type { AccountsService } from '../accounts/service.ts';

/** How stale another instance's view of who is popular may get. */
export const POPULAR_REFRESH_MS = 10_000;

export type PopularUsers = ReturnType<typeof createPopularUsers>;

/**
 * The users above `above` followers, whose posts are merged into timelines when read instead of
 * fanned out. They are few, and most deployments have none, so each instance keeps the list and
 * rereads it every POPULAR_REFRESH_MS, or at once when one of its own follows crosses the line.
 */
export function createPopularUsers(deps: { accounts: Pick<AccountsService, 'usersWithFollowersAbove'>; above: number }) {
  let cached: { ids: readonly string[]; readAt: number } | undefined;
  let reading: Promise<readonly string[]> | undefined;
  // A read that started before a crossing must not cache what it saw.
  let crossings = 0;

  async function read(): Promise<readonly string[]> {
    const [readAt, before] = [Date.now(), crossings];
    const ids = await deps.accounts.usersWithFollowersAbove(deps.above);
    if (crossings === before) cached = { ids, readAt };
    return ids;
  }

  return {
    above: deps.above,

    async ids(): Promise<readonly string[]> {
      if (cached !== undefined && Date.now() - cached.readAt < POPULAR_REFRESH_MS) return cached.ids;
      reading ??= read().finally(() => (reading = undefined));
      return reading;
    },

    /** A user's follower count moved from `before` to `after`. */
    counted(before: number, after: number): void {
      if (before > deps.above === after > deps.above) return;
      cached = undefined;
      reading = undefined;
      crossings += 1;
    },
  };
}
