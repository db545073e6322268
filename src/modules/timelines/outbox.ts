import type { FeedDelivery, FeedStore } from '#platform/feeds/types.ts';
import { defineOutboxHandler, type AnyOutboxHandler } from '#platform/outbox/types.ts';
import type { PostsService } from '../posts/service.ts';
import type { SocialService } from '../social/service.ts';
import { TIMELINE_EVENTS, type AuthorEvent, type FanOutEvent, type FollowEvent, type PostEvent } from './events.ts';

export type TimelineHandlerDeps = {
  feeds: FeedStore;
  social: Pick<SocialService, 'followersOf' | 'fanOutAudiences' | 'missingFollows'>;
  posts: Pick<PostsService, 'latestOfEach'>;
  backfillPosts: number;
};

/**
 * Posts fanned out together: the audiences of all their authors are one query and the feeds one
 * round trip per FEED_ENTRIES_PER_WRITE entries, so the cost per post falls as posts arrive faster.
 */
const FAN_OUT_BATCH = 200;
/**
 * Follows backfilled, or unfollows cleaned up, together: their authors' recent posts are one query
 * and the feeds one round trip. A claim holds one event per follow (their key), so a follow and its
 * undoing are never in one batch.
 */
const FOLLOW_BATCH = 100;

/** Readers by author: whose feeds get each author's posts. */
type Audiences = ReadonlyMap<string, readonly string[]>;

export function timelineHandlers(deps: TimelineHandlerDeps): AnyOutboxHandler[] {
  const { feeds, social, posts } = deps;

  /** Each author's recent posts, for their readers' feeds. */
  async function recentPostsFor(readers: Audiences): Promise<FeedDelivery[]> {
    const recent = Map.groupBy(await posts.latestOfEach([...readers.keys()], deps.backfillPosts), (post) => post.author_id);
    return [...recent].map(([authorId, written]) => ({
      userIds: readers.get(authorId) ?? [],
      entries: written.map((post) => ({ postId: post.id, authorId })),
    }));
  }

  /**
   * After a write to `audiences`, read before it: takes each author back out of the feeds of those
   * who stopped following them meanwhile. An unfollow committed before this check is seen by it; one
   * committed after it came after the write, and its own clean-up, which follows its commit, takes
   * the entries out. So no unfollow leaves an author's posts behind.
   */
  async function undoStaleAudience(audiences: Audiences): Promise<void> {
    const gone = await social.missingFollows(audiences);
    await feeds.removeAuthors(gone.map((follow) => ({ userId: follow.followerId, authorId: follow.followeeId })));
  }

  return [
    defineOutboxHandler<FanOutEvent>({
      topic: TIMELINE_EVENTS.fanOut,
      batchSize: FAN_OUT_BATCH,
      handle: async (events) => {
        const byAuthor = Map.groupBy(events, (event) => event.authorId);
        const audiences = await social.fanOutAudiences([...byAuthor.keys()]);
        const entryOf = ({ postId, authorId }: FanOutEvent) => ({ postId, authorId });
        const deliveries = [...byAuthor].map(([authorId, posted]): FeedDelivery => ({
          userIds: audiences.get(authorId) ?? [],
          entries: posted.map(entryOf),
        }));
        const toAuthors = events.filter((event) => event.toAuthor === true).map((event) => ({ userIds: [event.authorId], entries: [entryOf(event)] }));
        await feeds.add([...deliveries, ...toAuthors]);
        await undoStaleAudience(audiences);
      },
    }),

    defineOutboxHandler<PostEvent>({
      topic: TIMELINE_EVENTS.removePost,
      handle: async (events) => {
        const followers = await social.followersOf(events.map((event) => event.authorId));
        for (const { postId, authorId } of events) await feeds.removePost(postId, [authorId, ...(followers.get(authorId) ?? [])]);
      },
    }),

    defineOutboxHandler<FollowEvent>({
      topic: TIMELINE_EVENTS.backfill,
      batchSize: FOLLOW_BATCH,
      handle: async (events) => {
        const byFollowee = Map.groupBy(events, (event) => event.followeeId);
        const readers = new Map([...byFollowee].map(([followeeId, follows]) => [followeeId, follows.map((follow) => follow.followerId)]));
        await feeds.add(await recentPostsFor(readers));
      },
    }),

    defineOutboxHandler<FollowEvent>({
      topic: TIMELINE_EVENTS.unfollow,
      batchSize: FOLLOW_BATCH,
      handle: async (events) => {
        await feeds.removeAuthors(events.map(({ followerId, followeeId }) => ({ userId: followerId, authorId: followeeId })));
      },
    }),

    defineOutboxHandler<AuthorEvent>({
      topic: TIMELINE_EVENTS.catchUp,
      handle: async (events) => {
        for (const { authorId } of events) {
          // Read when handled: an author popular again by then is merged into timelines when read.
          const audiences = await social.fanOutAudiences([authorId]);
          if (audiences.size === 0) continue;
          await feeds.add(await recentPostsFor(audiences));
          await undoStaleAudience(audiences);
        }
      },
    }),
  ];
}
