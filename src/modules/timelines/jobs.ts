import type { FeedStore } from '#platform/feeds/types.ts';
import type { JobQueue } from '#platform/queue/types.ts';
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

export function registerTimelineJobs(queue: JobQueue, deps: TimelineJobDeps): void {
  const { feeds, social, posts } = deps;

  queue.process<FanOutEvent>(
    TIMELINE_JOBS.fanOut,
    async ({ postId, authorId, toAuthor }) => {
      const followers = await social.fanOutAudience(authorId);
      await feeds.add(toAuthor === true ? [authorId, ...followers] : followers, { postId, authorId });
    },
    { concurrency: FAN_OUT_CONCURRENCY },
  );

  queue.process<PostEvent>(TIMELINE_JOBS.removePost, async ({ postId, authorId }) => {
    await feeds.removePost(postId, [authorId, ...(await social.followerIds(authorId))]);
  });

  queue.process<FollowEvent>(TIMELINE_JOBS.backfill, async ({ followerId, followeeId }) => {
    const recent = await posts.latestBy([followeeId], undefined, deps.backfillPosts);
    await feeds.addMany(followerId, recent.map((post) => ({ postId: post.id, authorId: post.author_id })));
  });

  queue.process<FollowEvent>(TIMELINE_JOBS.unfollow, async ({ followerId, followeeId }) => {
    await feeds.removeAuthor(followerId, followeeId);
  });
}
