import type { FeedStore } from '#platform/feeds/types.ts';
import { decodeCursor, encodeCursor, type Page } from '#http/pagination.ts';
import type { Post } from '../posts/schemas.ts';
import type { PostsService } from '../posts/service.ts';
import type { SocialService } from '../social/service.ts';

export type TimelinesService = ReturnType<typeof createTimelinesService>;

/**
 * Home timelines: the reader's feed (filled on write: their own posts at once, others' by the fan-out
 * jobs) merged, when read, with the posts that are never fanned out: those of popular authors they follow.
 * When the feed store cannot vouch for a page (a lost or cut Redis feed), the page comes from the
 * follow graph in PostgreSQL, and a first page rebuilds the feed.
 */
export function createTimelinesService(deps: {
  feeds: FeedStore;
  posts: Pick<PostsService, 'home' | 'homeEntriesFromFollows'>;
  social: Pick<SocialService, 'popularUserIds'>;
}) {
  const { feeds, posts, social } = deps;

  async function rebuild(userId: string): Promise<void> {
    const newest = await posts.homeEntriesFromFollows(userId, feeds.maxLength);
    await feeds.replace(userId, newest.map((post) => ({ postId: post.id, authorId: post.author_id })));
  }

  return {
    async home(userId: string, query: { limit: number; cursor?: string | undefined }): Promise<Page<Post>> {
      const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 1)[0];
      const want = query.limit + 1;
      const feed = await feeds.page(userId, { beforeId, limit: want });
      // A full feed page vouches for nothing older than its last entry: the page stops there.
      const floorId = feed.complete && feed.postIds.length === want ? feed.postIds.at(-1) : undefined;
      const found = await posts.home({
        readerId: userId,
        feedIds: feed.complete ? feed.postIds : [],
        merged: feed.complete ? { popular: await social.popularUserIds() } : 'all',
        floorId,
        beforeId,
        limit: want,
      });
      if (!feed.complete && beforeId === undefined) await rebuild(userId);
      const items = found.slice(0, query.limit);
      // Past the floor, the next page starts below it even if nothing here survived the filters.
      const last = found.length > query.limit ? items.at(-1)?.id : floorId;
      return { items, nextCursor: last === undefined ? null : encodeCursor([last]) };
    },
  };
}
