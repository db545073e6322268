import { defineOutboxHandler, type AnyOutboxHandler } from '#platform/outbox/types.ts';
import type { SocialService } from '../social/service.ts';
import { TIMELINE_EVENTS, type FanOutEvent } from '../timelines/events.ts';
import type { StreamService } from './service.ts';

/** Posts handled together: one follower query per author, and one backlog round trip per thousand readers. */
const BATCH = 200;

/**
 * `post` events, from the fan-out event timelines get (the relay hands it to each module handling
 * it). Every follower is told, popular authors' too (their posts are merged into home timelines when
 * read, never fanned out into feeds, but they show there all the same), and the author, whose home
 * shows their own post. Registered before the timelines' handler: live readers hear of a post as
 * soon as it is saved, not after thousands of feed writes, and fetch it by id. A batch handled
 * again sends its events again: clients key posts by id.
 */
export function streamHandlers(deps: { stream: StreamService; social: Pick<SocialService, 'followerIds'> }): AnyOutboxHandler[] {
  const { stream, social } = deps;
  return [
    defineOutboxHandler<FanOutEvent>({
      topic: TIMELINE_EVENTS.fanOut,
      batchSize: BATCH,
      handle: async (posts) => {
        const byAuthor = Map.groupBy(posts, (post) => post.authorId);
        const readers = await Promise.all(
          [...byAuthor].map(async ([authorId, written]) => {
            const userIds = [authorId, ...(await social.followerIds(authorId))];
            return written.flatMap(({ postId }) => userIds.map((userId) => ({ userId, post: { id: postId, authorId } })));
          }),
        );
        await stream.postsPublished(readers.flat());
      },
    }),
  ];
}
