import type { FeedStore } from '#platform/feeds/types.ts';
import { defineJob, type AnyJobDefinition } from '#platform/queue/jobs.ts';
import type { PostsService } from '../posts/service.ts';
import type { SocialService } from '../social/service.ts';
import { TIMELINE_JOBS, type FanOutEvent, type FollowEvent, type PostEvent } from './events.ts';

export type TimelineJobDeps = {
  feeds: FeedStore;
  social: Pick<SocialService, 'followerIds' | 'fanOutAudience'>;
  posts: Pick<PostsService, 'latestBy'>;
  backfillPosts: number;
};

/** Fan-out is the bulk of the work: a few at a time, each one a few round trips however many followers. */
const FAN_OUT_CONCURRENCY = 4;

export function timelineJobs(deps: TimelineJobDeps): AnyJobDefinition[] {
  const { feeds, social, posts } = deps;
  return [
    defineJob<FanOutEvent>({
      name: TIMELINE_JOBS.fanOut,
      concurrency: FAN_OUT_CONCURRENCY,
      handler: async ({ postId, authorId, toAuthor }) => {
        const followers = await social.fanOutAudience(authorId);
        await feeds.add(toAuthor === true ? [authorId, ...followers] : followers, { postId, authorId });
      },
    }),

    defineJob<PostEvent>({
      name: TIMELINE_JOBS.removePost,
      handler: async ({ postId, authorId }) => {
        await feeds.removePost(postId, [authorId, ...(await social.followerIds(authorId))]);
      },
    }),

    defineJob<FollowEvent>({
      name: TIMELINE_JOBS.backfill,
      handler: async ({ followerId, followeeId }) => {
        const recent = await posts.latestBy([followeeId], undefined, deps.backfillPosts);
        await feeds.addMany(followerId, recent.map((post) => ({ postId: post.id, authorId: post.author_id })));
      },
    }),

    defineJob<FollowEvent>({
      name: TIMELINE_JOBS.unfollow,
      handler: async ({ followerId, followeeId }) => {
        await feeds.removeAuthor(followerId, followeeId);
      },
    }),
  ];
}
