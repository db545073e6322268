import { defineOutboxHandler, type AnyOutboxHandler } from '#platform/outbox/types.ts';
import type { SocialService } from '../social/service.ts';
import { TIMELINE_EVENTS, type FanOutEvent } from '../timelines/events.ts';
import type { StreamService } from './service.ts';

/** Posts handled together: one follower query, and one backlog round trip per thousand readers. */
const BATCH = 200;

/**
 * `post` events, from the fan-out event timelines get (the relay hands it to each module handling
 * it, side by side). Every follower is told, popular authors' too (their posts are merged into home
 * timelines when read, never fanned out into feeds, but they show there all the same), and the
 * author, whose home shows their own post. Live readers hear of a post as soon as it is saved, not
 * after thousands of feed writes, and fetch it by id. A batch handled again sends its events
 * again: clients key posts by id.
 */
export function streamHandlers(deps: { stream: StreamService; social: Pick<SocialService, 'followersOf'> }): AnyOutboxHandler[] {
  const { stream, social } = deps;
  return [
    defineOutboxHandler<FanOutEvent>({
      topic: TIMELINE_EVENTS.fanOut,
      batchSize: BATCH,
      handle: async (posts) => {
        const authorIds = [...new Set(posts.map((post) => post.authorId))];
        const followers = await social.followersOf(authorIds);
        // One list of readers per author, shared by the author's posts.
        const readers = new Map(authorIds.map((authorId) => [authorId, [authorId, ...(followers.get(authorId) ?? [])]]));
        await stream.postsPublished(posts.map(({ postId, authorId }) => ({ post: { id: postId, authorId }, readerIds: readers.get(authorId)! })));
      },
    }),
  ];
}
