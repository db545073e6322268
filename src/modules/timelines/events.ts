import type { OutboxEvent } from '#platform/outbox/types.ts';

/**
 * The outbox topics that keep home feeds in step with posts and follows. Posts and follows write
 * them in the transaction that makes them necessary; `outbox.ts` handles them. Every handler is
 * idempotent, so an event handled twice does no harm.
 */
export const TIMELINE_EVENTS = {
  /** A post was published: add it to each follower's feed (unless its author is popular). */
  fanOut: 'timelines.fan-out',
  /** A post was deleted: take it out of the feeds it reached. */
  removePost: 'timelines.remove-post',
  /** Someone followed an author: copy the author's recent posts into their feed. */
  backfill: 'timelines.backfill',
  /** Someone stopped following an author: take the author's posts out of their feed. */
  unfollow: 'timelines.unfollow',
  /** An author stopped being popular: copy their recent posts, never fanned out, into their followers' feeds. */
  catchUp: 'timelines.catch-up',
} as const;

export type PostEvent = { postId: string; authorId: string };
/** `toAuthor`: publishing could not write the post into its author's own feed, so the handler does. */
export type FanOutEvent = PostEvent & { toAuthor?: boolean };
export type FollowEvent = { followerId: string; followeeId: string };
export type AuthorEvent = { authorId: string };

// Keys: a post's fan-out and its removal are handled in order, and so are a follow and an unfollow
// of the same pair, so a late handler never puts back what a later one took out.

export const fanOutEvent = (payload: FanOutEvent): OutboxEvent<FanOutEvent> => ({ topic: TIMELINE_EVENTS.fanOut, payload, key: `post:${payload.postId}` });

export const removePostEvent = (payload: PostEvent): OutboxEvent<PostEvent> => ({
  topic: TIMELINE_EVENTS.removePost,
  payload,
  key: `post:${payload.postId}`,
});

const followKey = (follow: FollowEvent) => `follow:${follow.followerId}:${follow.followeeId}`;

export const backfillEvent = (payload: FollowEvent): OutboxEvent<FollowEvent> => ({ topic: TIMELINE_EVENTS.backfill, payload, key: followKey(payload) });

export const unfollowEvent = (payload: FollowEvent): OutboxEvent<FollowEvent> => ({ topic: TIMELINE_EVENTS.unfollow, payload, key: followKey(payload) });

export const catchUpEvent = (payload: AuthorEvent): OutboxEvent<AuthorEvent> => ({ topic: TIMELINE_EVENTS.catchUp, payload });
