import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '#platform/db/database.ts';
import { decodeCursor, encodeCursor, type Page } from '#http/pagination.ts';
import { newId } from '#db/ids.ts';
import type { AccountsService } from '../accounts/service.ts';
import type { PostsService } from '../posts/service.ts';
import type { SocialService } from '../social/service.ts';
import type { Notification, NotificationsQuery } from './schemas.ts';
import * as store from './store.ts';
import type { NotificationRow } from './store.ts';

export type NotificationsService = ReturnType<typeof createNotificationsService>;

/** Unread notifications are counted up to this many: a badge shows "1000+", and the count stays cheap. */
export const UNREAD_COUNT_CAP = 1000;

type Follow = { followerId: string; followeeId: string };
type Like = { postId: string; userId: string };
type Sale = { postId: string; buyerId: string };
type Published = { postId: string; authorId: string };

/** A notification just made, as its recipient sees it. */
export type MadeNotification = { readonly recipientId: string; readonly notification: Notification };
/**
 * Told of each batch of notifications made, once they are committed (live streams, Web Push). A
 * failure is the delivery's own: the notifications stay made and listed, and are not made again.
 */
export type NotificationDelivery = (made: readonly MadeNotification[]) => Promise<void>;

/**
 * Notifications: what others did that concerns a user (followed them, liked or bought their post,
 * published a post they asked to hear of), made after the cause commits from its outbox event, never
 * of what the user did themself, at most one per cause. An unread one whose cause is undone goes;
 * a read one stays while its actor and post exist (they take it with them when they go). Each user
 * reads and marks their own only.
 */
export function createNotificationsService(deps: {
  db: Database;
  accounts: Pick<AccountsService, 'usersById'>;
  social: Pick<SocialService, 'asSeenBy' | 'notifiedFollowers'>;
  posts: Pick<PostsService, 'readableTexts'>;
  deliveries: readonly NotificationDelivery[];
  logger: Pick<FastifyBaseLogger, 'error'>;
}) {
  const { db, accounts, social, posts } = deps;

  /** One new id per possible notification, in the order given: ids are time-ordered. */
  const withIds = <T>(causes: readonly T[]) => causes.map((cause) => ({ ...cause, id: newId() }));

  /**
   * As the recipient sees them: their actors as they see those users, and what they may see of
   * each post (its text, as posts show it). One whose post they may no longer see is left out.
   */
  async function present(recipientId: string, rows: readonly NotificationRow[]): Promise<Notification[]> {
    const postIds = rows.flatMap((row) => (row.post_id === null ? [] : [row.post_id]));
    const [users, texts] = await Promise.all([accounts.usersById(rows.map((row) => row.actor_id)), posts.readableTexts(recipientId, postIds)]);
    const actors = new Map((await social.asSeenBy(recipientId, [...users.values()])).map((user) => [user.id, user]));
    return rows.flatMap((row): Notification[] => {
      const actor = actors.get(row.actor_id);
      const text = row.post_id === null ? undefined : texts.get(row.post_id);
      if (actor === undefined || (row.post_id !== null && text === undefined)) return [];
      return [
        {
          id: row.id,
          type: row.type,
          actor,
          ...(row.post_id !== null && { post: { id: row.post_id, text: text as string } }),
          createdAt: row.created_at.toISOString(),
          read: row.read_at !== null,
        },
      ];
    });
  }

  /** Hands what was just made to every delivery, each recipient's as they see them. */
  async function deliver(rows: readonly NotificationRow[]): Promise<void> {
    if (rows.length === 0 || deps.deliveries.length === 0) return;
    const byRecipient = Map.groupBy(rows, (row) => row.recipient_id);
    const made = (
      await Promise.all(
        [...byRecipient].map(async ([recipientId, own]) => (await present(recipientId, own)).map((notification) => ({ recipientId, notification }))),
      )
    ).flat();
    if (made.length === 0) return;
    const outcomes = await Promise.allSettled(deps.deliveries.map((delivery) => delivery(made)));
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') deps.logger.error({ err: outcome.reason, count: made.length }, 'notifications: a delivery failed; they stay listed');
    }
  }

  return {
    /** The caller's notifications, newest first (only unread ones with `unread`). */
    async list(callerId: string, query: NotificationsQuery): Promise<Page<Notification>> {
      const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 1)[0];
      const rows = await store.listNotifications(db, { recipientId: callerId, unreadOnly: query.unread === true, beforeId, limit: query.limit + 1 });
      const pageRows = rows.slice(0, query.limit);
      const last = pageRows.at(-1);
      // The cursor is the last row read, shown or not: a page left short by `present` still leads on.
      return { items: await present(callerId, pageRows), nextCursor: rows.length > query.limit && last !== undefined ? encodeCursor([last.id]) : null };
    },

    /**
     * Marks the caller's notifications read: those up to and including `upTo` (ids are
     * time-ordered, so it is a place in their list: one taken away meanwhile still marks the older
     * ones), or all. Another user's id marks none of theirs.
     */
    markRead: (callerId: string, upTo: string | undefined) => store.markRead(db, callerId, upTo, new Date()),

    unreadCount: (callerId: string) => store.countUnread(db, callerId, UNREAD_COUNT_CAP),

    // What outbox events make and unmake (see outbox.ts): each checks its cause as it stands now.

    followed: async (follows: readonly Follow[]) => deliver(await store.insertFollows(db, withIds(follows), new Date())),
    unfollowed: (follows: readonly Follow[]) => store.deleteForUnfollows(db, follows),
    liked: async (likes: readonly Like[]) => deliver(await store.insertLikes(db, withIds(likes), new Date())),
    unliked: (likes: readonly Like[]) => store.deleteForUnlikes(db, likes),
    sold: async (sales: readonly Sale[]) => deliver(await store.insertSales(db, withIds(sales), new Date())),
    postsRemoved: (postIds: readonly string[]) => store.deleteForPosts(db, postIds),

    /** New posts, to the followers who asked to hear of their authors': one query when nobody did. */
    async published(published: readonly Published[]): Promise<void> {
      const audiences = await social.notifiedFollowers([...new Set(published.map((post) => post.authorId))]);
      if (audiences.size === 0) return;
      const notices = published.flatMap(({ postId, authorId }) => (audiences.get(authorId) ?? []).map((recipientId) => ({ postId, recipientId })));
      await deliver(await store.insertNewPosts(db, withIds(notices), new Date()));
    },
  };
}
