import type { Database } from '#platform/db/database.ts';
import { enqueueAfterCommit } from '#platform/queue/after-commit.ts';
import type { JobQueue } from '#platform/queue/types.ts';
import { errors } from '#http/errors.ts';
import { decodeTimeCursor, encodeTimeCursor, type Page } from '#http/pagination.ts';
import type { User } from '../accounts/schemas.ts';
import type { AccountsService } from '../accounts/service.ts';
import { TIMELINE_JOBS, type FollowEvent } from '../timelines/events.ts';
import type { PopularUsers } from './popular.ts';
import * as store from './store.ts';

export type SocialService = ReturnType<typeof createSocialService>;

type PageQuery = { limit: number; cursor?: string | undefined };

/**
 * Follows: idempotent, never of oneself, at most `followMax` per follower, with both users' counters
 * (accounts' to write) kept exact in the same transaction.
 */
export function createSocialService(deps: {
  db: Database;
  accounts: Pick<AccountsService, 'usersById' | 'userIdOf' | 'getUserByHandle' | 'moveFollowCounts' | 'dropFollowCounts'>;
  queue: JobQueue;
  popular: PopularUsers;
  followMax: number;
}) {
  const { db, accounts, queue, popular, followMax } = deps;

  async function followeeOf(callerId: string, handle: string): Promise<string> {
    const followeeId = await accounts.userIdOf(handle);
    if (followeeId === callerId) {
      throw errors.invalidRequest('You cannot follow yourself', [{ path: '/handle', message: 'is your own handle' }]);
    }
    return followeeId;
  }

  /** Marks which of these users the viewer follows (one query); anonymous viewers get them as they are. */
  async function asSeenBy(viewerId: string | undefined, users: User[]): Promise<User[]> {
    if (viewerId === undefined) return users;
    const followed = await store.followedAmong(db, viewerId, users.map((user) => user.id));
    return users.map((user) => ({ ...user, followedByMe: followed.has(user.id) }));
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
    async follow(callerId: string, handle: string): Promise<void> {
      const followeeId = await followeeOf(callerId, handle);
      const followers = await enqueueAfterCommit(queue, (jobs) =>
        db.transaction().execute(async (trx) => {
          if (!(await store.addFollow(trx, callerId, followeeId, new Date()))) return undefined;
          const count = await accounts.moveFollowCounts(trx, { followerId: callerId, followeeId, by: 1, maxFollowing: followMax });
          // Thrown inside the transaction, so the follow row goes back out with it.
          if (count === undefined) throw errors.followLimit(followMax);
          jobs.add(TIMELINE_JOBS.backfill, { followerId: callerId, followeeId } satisfies FollowEvent);
          return count;
        }),
      );
      if (followers !== undefined) popular.counted(followers - 1, followers);
    },

    async unfollow(callerId: string, handle: string): Promise<void> {
      const followeeId = await followeeOf(callerId, handle);
      const followers = await enqueueAfterCommit(queue, (jobs) =>
        db.transaction().execute(async (trx) => {
          if (!(await store.removeFollow(trx, callerId, followeeId))) return undefined;
          const count = await accounts.moveFollowCounts(trx, { followerId: callerId, followeeId, by: -1 });
          jobs.add(TIMELINE_JOBS.unfollow, { followerId: callerId, followeeId } satisfies FollowEvent);
          return count;
        }),
      );
      if (followers !== undefined) popular.counted(followers + 1, followers);
    },

    followerIds: (userId: string) => store.followerIds(db, userId),
    /** Whom a post by `userId` is fanned out to: their followers, unless they are popular. */
    fanOutAudience: (userId: string) => store.followerIdsUpTo(db, userId, popular.above),

    /** Users whose posts are merged into timelines when read (see popular.ts). */
    popularUserIds: () => popular.ids(),

    /** Before an account is deleted, in its transaction: its follows leave the others' counters. */
    async releaseUser(trx: Database, userId: string): Promise<void> {
      await accounts.dropFollowCounts(trx, store.followsOf(trx, userId));
    },

    async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
      return store.isFollowing(db, followerId, followeeId);
    },

    /** A public profile, with `followedByMe` for a signed-in viewer. */
    async profile(viewerId: string | undefined, handle: string): Promise<User> {
      const [user] = await asSeenBy(viewerId, [await accounts.getUserByHandle(handle)]);
      return user as User;
    },

    asSeenBy,
    followers: (viewerId: string | undefined, handle: string, query: PageQuery) => list(viewerId, handle, 'followers', query),
    following: (viewerId: string | undefined, handle: string, query: PageQuery) => list(viewerId, handle, 'following', query),
  };
}
