import type { FeedStore } from '#platform/feeds/types.ts';
import { decodeCursor, encodeCursor, type Page } from '#http/pagination.ts';
import type { Post } from '../posts/schemas.ts';
import type { PostsService } from '../posts/service.ts';
import type { SocialService } from '../social/service.ts';

export type TimelinesService = ReturnType<typeof createTimelinesService>;

type PostRef = { id: string; author_id: string };

/**
 * Home timelines: the reader's feed (filled on write by the fan-out jobs) merged, when read, with the
 * posts that are never fanned out — the reader's own, and those of popular authors they follow.
 * When the feed store cannot vouch for a page (a lost or cut Redis feed), the page comes from the
 * follow graph in PostgreSQL, and a first page rebuilds the feed.
 */
export function createTimelinesService(deps: {
  feeds: FeedStore;
  posts: Pick<PostsService, 'postsByIds' | 'latestBy' | 'homeFromFollows'>;
  social: Pick<SocialService, 'followedAmong' | 'popularFollowees'>;
  fanOutMaxFollowers: number;
}) {
  const { feeds, posts, social } = deps;

  async function pageIds(userId: string, beforeId: string | undefined, want: number): Promise<string[]> {
    const feed = await feeds.page(userId, { beforeId, limit: want });
    if (!feed.complete) {
      const fromGraph = await posts.homeFromFollows(userId, beforeId, want);
      if (beforeId === undefined) await rebuild(userId);
      return fromGraph.map((post) => post.id);
    }
    const mergedAuthors = [userId, ...(await social.popularFollowees(userId, deps.fanOutMaxFollowers))];
    const merged = await posts.latestBy(mergedAuthors, beforeId, want);
    return [...new Set([...feed.postIds, ...merged.map((post) => post.id)])].sort().reverse().slice(0, want);
  }

  async function rebuild(userId: string): Promise<void> {
    const newest: PostRef[] = await posts.homeFromFollows(userId, undefined, feeds.maxLength);
    await feeds.replace(userId, newest.map((post) => ({ postId: post.id, authorId: post.author_id })));
  }

  return {
    async home(userId: string, query: { limit: number; cursor?: string | undefined }): Promise<Page<Post>> {
      const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 1)[0];
      const ids = await pageIds(userId, beforeId, query.limit + 1);
      const shownIds = ids.slice(0, query.limit);
      const hydrated = await posts.postsByIds(userId, shownIds);
      // A feed may still hold posts of someone just unfollowed, until its clean-up job has run.
      const followed = await social.followedAmong(userId, [...new Set(hydrated.map((post) => post.author.id))]);
      const items = hydrated.filter((post) => post.author.id === userId || followed.has(post.author.id));
      const last = shownIds.at(-1);
      return { items, nextCursor: ids.length > query.limit && last !== undefined ? encodeCursor([last]) : null };
    },
  };
}
