import type { Database } from '#platform/db/database.ts';
import type { EmitEvent, Outbox } from '#platform/outbox/types.ts';
import { errors } from '#http/errors.ts';
import { decodeTimeCursor, encodeTimeCursor, type Page } from '#http/pagination.ts';
import type { User } from '../accounts/schemas.ts';
import type { AccountsService, FolloweeCount } from '../accounts/service.ts';
import { backfillEvent, catchUpEvent, unfollowEvent } from '../timelines/events.ts';
import type { PopularUsers } from './popular.ts';
import * as store from './store.ts';

export type SocialService = ReturnType<typeof createSocialService>;

type PageQuery = { limit: number; cursor?: string | undefined };
type AfterCommit = () => void;

/**
 * Follows: idempotent, never of oneself, at most `followMax` per follower, with both users' counters
 * (accounts' to write) kept exact in the same transaction.
 */
export function createSocialService(deps: {
  db: Database;
  accounts: Pick<AccountsService, 'usersById' | 'userIdOf' | 'getUserByHandle' | 'moveFollowCounts' | 'setPopular' | 'dropFollowCounts' | 'remarkPopular'>;
  outbox: Pick<Outbox, 'transaction'>;
  popular: PopularUsers;
  followMax: number;
}) {
  const { db, accounts, outbox, popular, followMax } = deps;

  /**
   * In a follow's transaction (or an account deletion's), once the followee's count moved: keeps
   * their popular mark (see popular.ts). An author who stops being popular has their recent posts,
   * never fanned out, caught up into their followers' feeds. Says whether the mark changed.
   */
  async function remark(trx: Database, emit: EmitEvent, followeeId: string, moved: FolloweeCount, by: 1 | -1): Promise<boolean> {
    const mark = popular.markAfter(moved.followers, by, moved.popular);
    if (mark === moved.popular) return false;
    await accounts.setPopular(trx, followeeId, mark);
    if (!mark) await emit(catchUpEvent({ authorId: followeeId }));
    return true;
  }

  async function followeeOf(callerId: string, handle: string): Promise<string> {
    const followeeId = await accounts.userIdOf(handle);
    if (followeeId === callerId) {
      throw errors.invalidRequest('You cannot follow yourself', [{ path: '/handle', message: 'is your own handle' }]);
    }
    return followeeId;
  }

  /**
   * Marks which of these users the viewer follows, and which they hear of each new post from (one
   * query); anonymous viewers get them as they are.
   */
  async function asSeenBy(viewerId: string | undefined, users: User[]): Promise<User[]> {
    if (viewerId === undefined) return users;
    const followed = await store.followedAmong(db, viewerId, users.map((user) => user.id));
    return users.map((user) => ({ ...user, followedByMe: followed.has(user.id), notifyingMe: followed.get(user.id)?.notify ?? false }));
  }

  async function list(
    viewerId: string | undefined,
    handle: string,
    side: 'followers' | 'following',
    query: { limit: number; cursor?: string | undefined },
  ): Promise<Page<User>> {
    const userId = await accounts.userIdOf(handle);
    const cursor = query.cursor === undefined ? undefined : decodeTimeCursor(query.cursor);
    const before = cursor === undefined ? undefined : { at: cursor.at, otherId: cursor.id };
    const rows = await store.listFollows(db, { userId, side, before, limit: query.limit + 1 });
    const pageRows = rows.slice(0, query.limit);
    const users = await accounts.usersById(pageRows.map((row) => row.other_id));
    const last = pageRows.at(-1);
    return {
      items: await asSeenBy(viewerId, pageRows.flatMap((row) => users.get(row.other_id) ?? [])),
      nextCursor: rows.length > query.limit && last !== undefined ? encodeTimeCursor(last.created_at, last.other_id) : null,
    };
  }

  return {
    /**
     * `notify`: whether the caller hears of each new post of the followee; left as it was on a
     * follow that exists when absent, false on a new one.
     */
    async follow(callerId: string, handle: string, notify?: boolean): Promise<void> {
      const followeeId = await followeeOf(callerId, handle);
      const follow = { followerId: callerId, followeeId };
      const remarked = await outbox.transaction(db, async (trx, emit) => {
        if (!(await store.addFollow(trx, callerId, followeeId, new Date(), notify ?? false))) {
          if (notify !== undefined) await store.setNotify(trx, callerId, followeeId, notify);
          return false;
        }
        const moved = await accounts.moveFollowCounts(trx, { ...follow, by: 1, maxFollowing: followMax });
        // Thrown inside the transaction, so the follow row goes back out with it.
        if (moved === undefined) throw errors.followLimit(followMax);
        await emit(backfillEvent(follow));
        return remark(trx, emit, followeeId, moved, 1);
      });
      if (remarked) popular.changed();
    },

    async unfollow(callerId: string, handle: string): Promise<void> {
      const followeeId = await followeeOf(callerId, handle);
      const follow = { followerId: callerId, followeeId };
      const remarked = await outbox.transaction(db, async (trx, emit) => {
        if (!(await store.removeFollow(trx, callerId, followeeId))) return false;
        const moved = await accounts.moveFollowCounts(trx, { ...follow, by: -1 });
        await emit(unfollowEvent(follow));
        return moved !== undefined && remark(trx, emit, followeeId, moved, -1);
      });
      if (remarked) popular.changed();
    },

    /** Everyone following each of these users, by user (one without followers is left out). */
    followersOf: (userIds: readonly string[]) => store.followersOf(db, userIds),
    /** Of these authors, the followers who asked to hear of each new post, by author. */
    notifiedFollowers: (authorIds: readonly string[]) => store.notifiedFollowers(db, authorIds),
    /** Whom posts by each of these authors are fanned out to: their followers, unless they are popular. */
    fanOutAudiences: (authorIds: readonly string[]) => store.fanOutAudiences(db, authorIds, popular.above),
    /** Of these followers by followee, the follows that are gone (undone, or their users deleted). */
    missingFollows: (audiences: ReadonlyMap<string, readonly string[]>) => store.missingFollows(db, audiences),

    /**
     * At start-up: the marks agree with FANOUT_MAX_FOLLOWERS as configured now. Users above it but
     * never marked (counted before migration 0011, or above a lowered line) are marked; those marked
     * but now below the lower line (a raised one) stop being popular, and are caught up, as a
     * follow would do at their next count change.
     */
    async remarkPopular(): Promise<void> {
      const remarked = await outbox.transaction(db, async (trx, emit) => {
        const { marked, unmarked } = await accounts.remarkPopular(trx, { above: popular.above, below: popular.below });
        for (const authorId of unmarked) await emit(catchUpEvent({ authorId }));
        return marked + unmarked.length > 0;
      });
      if (remarked) popular.changed();
    },

    /** Users whose posts are merged into timelines when read (see popular.ts). */
    popularUserIds: () => popular.ids(),

    /**
     * Before an account is deleted, in its transaction: its follows leave the others' counters, and
     * the users it followed are marked again as an unfollow would (see popular.ts). Resolves with
     * what to do once that commits.
     */
    async releaseUser(trx: Database, userId: string, emit: EmitEvent): Promise<AfterCommit | undefined> {
      const moved = await accounts.dropFollowCounts(trx, store.followsOf(trx, userId));
      let remarked = false;
      for (const [followeeId, count] of moved) if (await remark(trx, emit, followeeId, count, -1)) remarked = true;
      return remarked ? popular.changed : undefined;
    },

    async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
      return store.isFollowing(db, followerId, followeeId);
    },

    /** A public profile, with `followedByMe` and `notifyingMe` for a signed-in viewer. */
    async profile(viewerId: string | undefined, handle: string): Promise<User> {
      const [user] = await asSeenBy(viewerId, [await accounts.getUserByHandle(handle)]);
      return user as User;
    },

    asSeenBy,
    followers: (viewerId: string | undefined, handle: string, query: PageQuery) => list(viewerId, handle, 'followers', query),
    following: (viewerId: string | undefined, handle: string, query: PageQuery) => list(viewerId, handle, 'following', query),
  };
}
