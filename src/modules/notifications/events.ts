import type { OutboxEvent } from '#platform/outbox/types.ts';

/**
 * The outbox topics of likes, which only notifications handle (`outbox.ts`): posts writes them in
 * the like's transaction. Follows, posts and purchases already write events of their own
 * (timelines', wallet's), and notifications handle those topics too.
 */
export const NOTIFICATION_EVENTS = {
  /** Someone liked a post: its author hears of it. */
  liked: 'notifications.liked',
  /** Someone took their like back: its notification goes, unless read. */
  unliked: 'notifications.unliked',
} as const;

export type LikeEvent = { postId: string; userId: string };

// A like and its undoing are handled in order (the like row, locked by both, orders their commits).
const likeKey = (like: LikeEvent) => `like:${like.postId}:${like.userId}`;

export const likedEvent = (payload: LikeEvent): OutboxEvent<LikeEvent> => ({ topic: NOTIFICATION_EVENTS.liked, payload, key: likeKey(payload) });

export const unlikedEvent = (payload: LikeEvent): OutboxEvent<LikeEvent> => ({ topic: NOTIFICATION_EVENTS.unliked, payload, key: likeKey(payload) });
