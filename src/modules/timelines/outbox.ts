import type { FeedDelivery, FeedStore } from '#platform/feeds/types.ts';
import { defineOutboxHandler, type AnyOutboxHandler } from '#platform/outbox/types.ts';
import type { PostsService } from '../posts/service.ts';
import type { SocialService } from '../social/service.ts';
import { TIMELINE_EVENTS, type AuthorEvent, type FanOutEvent, type FollowEvent, type PostEvent } from './events.ts';

export type TimelineHandlerDeps = {
  feeds: FeedStore;
  social: Pick<SocialService, 'followerIds' | 'fanOutAudiences'>;
  posts: Pick<PostsService, 'latestBy'>;
  backfillPosts: number;
};

/**
 * Posts fanned out together: the audiences of all their authors are one query and the feeds one
 * round trip, so the cost per post falls as posts arrive faster.
 */
const FAN_OUT_BATCH = 200;

export function timelineHandlers(deps: TimelineHandlerDeps): AnyOutboxHandler[] {
  const { feeds, social, posts } = deps;

  /** Each author's recent posts, for these readers' feeds. */
  async function recentPostsFor(authorId: string, userIds: readonly string[]): Promise<FeedDelivery> {
    const recent = await posts.latestBy([authorId], undefined, deps.backfillPosts);
    return { userIds, entries: recent.map((post) => ({ postId: post.id, authorId: post.author_id })) };
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
      },
    }),

    defineOutboxHandler<PostEvent>({
      topic: TIMELINE_EVENTS.removePost,
      handle: async (events) => {
        for (const { postId, authorId } of events) await feeds.removePost(postId, [authorId, ...(await social.followerIds(authorId))]);
      },
    }),

    defineOutboxHandler<FollowEvent>({
      topic: TIMELINE_EVENTS.backfill,
      handle: async (events) => {
        for (const { followerId, followeeId } of events) await feeds.add([await recentPostsFor(followeeId, [followerId])]);
      },
    }),

    defineOutboxHandler<FollowEvent>({
      topic: TIMELINE_EVENTS.unfollow,
      handle: async (events) => {
        for (const { followerId, followeeId } of events) await feeds.removeAuthor(followerId, followeeId);
      },
    }),

    defineOutboxHandler<AuthorEvent>({
      topic: TIMELINE_EVENTS.catchUp,
      handle: async (events) => {
        for (const { authorId } of events) {
          // Read when handled: an author popular again by then is merged into timelines when read.
          const followers = (await social.fanOutAudiences([authorId])).get(authorId) ?? [];
          if (followers.length > 0) await feeds.add([await recentPostsFor(authorId, followers)]);
        }
      },
    }),
  ];
}
