import { defineOutboxHandler, type AnyOutboxHandler } from '#platform/outbox/types.ts';
import { TIMELINE_EVENTS, type FanOutEvent, type FollowEvent, type PostEvent } from '../timelines/events.ts';
import { WALLET_EVENTS, type PurchasedEvent } from '../wallet/events.ts';
import { NOTIFICATION_EVENTS, type LikeEvent } from './events.ts';
import type { NotificationsService } from './service.ts';

/** Events handled together: each kind costs one statement a batch (new posts: one more when someone asked). */
const BATCH = 200;

/**
 * Notifications' outbox handlers. Likes write events of their own; follows, posts and sales are heard
 * from the events timelines and wallet already get (the relay hands a topic to each module handling
 * it), so publishing, which is benchmarked, writes nothing more. Every handler checks its cause as
 * it stands when handled, and makes a cause's notification once, so it is idempotent.
 */
export function notificationHandlers(deps: { notifications: NotificationsService }): AnyOutboxHandler[] {
  const { notifications } = deps;
  return [
    defineOutboxHandler<FollowEvent>({ topic: TIMELINE_EVENTS.backfill, batchSize: BATCH, handle: (follows) => notifications.followed(follows) }),
    defineOutboxHandler<FollowEvent>({ topic: TIMELINE_EVENTS.unfollow, batchSize: BATCH, handle: (follows) => notifications.unfollowed(follows) }),
    defineOutboxHandler<LikeEvent>({ topic: NOTIFICATION_EVENTS.liked, batchSize: BATCH, handle: (likes) => notifications.liked(likes) }),
    defineOutboxHandler<LikeEvent>({ topic: NOTIFICATION_EVENTS.unliked, batchSize: BATCH, handle: (likes) => notifications.unliked(likes) }),
    defineOutboxHandler<PurchasedEvent>({ topic: WALLET_EVENTS.purchased, batchSize: BATCH, handle: (sales) => notifications.sold(sales) }),
    defineOutboxHandler<FanOutEvent>({ topic: TIMELINE_EVENTS.fanOut, batchSize: BATCH, handle: (posts) => notifications.published(posts) }),
    defineOutboxHandler<PostEvent>({ topic: TIMELINE_EVENTS.removePost, batchSize: BATCH, handle: (posts) => notifications.postsRemoved(posts.map((post) => post.postId)) }),
  ];
}
