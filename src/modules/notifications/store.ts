import { sql, type Selectable } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import type { NotificationsTable } from './tables.ts';

export type NotificationRow = Selectable<NotificationsTable>;

type Follow = { followerId: string; followeeId: string };
type Like = { postId: string; userId: string };
type Sale = { postId: string; buyerId: string };
type NewPostNotice = { postId: string; recipientId: string };

// Each notification is made from its cause as it stands when its event is handled: a cause undone
// (or whose post or users are gone) by then makes none. Those checks are read-only looks into
// social's follows, posts' likes and posts and accounts' users, in the statement that writes, so
// there is no window between them and no round trip more. A cause's notification is made once
// (`notifications_cause`), so an event handled again adds nothing. Ids come from the caller, one
// per possible notification: a check that fails leaves its id unused. Each returns those it made.

/** A follow's notification, to the followee, while the follow exists. */
export async function insertFollows(db: Database, follows: readonly (Follow & { id: string })[], at: Date): Promise<NotificationRow[]> {
  if (follows.length === 0) return [];
  const { rows } = await sql<NotificationRow>`
    insert into notifications (id, recipient_id, type, actor_id, created_at)
    select v.id, v.followee_id, 'follow', v.follower_id, ${at}
    from unnest(${follows.map((f) => f.id)}::text[], ${follows.map((f) => f.followerId)}::text[], ${follows.map((f) => f.followeeId)}::text[])
      as v (id, follower_id, followee_id)
    where exists (select 1 from follows f where f.follower_id = v.follower_id and f.followee_id = v.followee_id)
    on conflict do nothing
    returning *`.execute(db);
  return rows;
}

/**
 * After unfollows: for each follow that no longer exists, its unread notification goes, and so do
 * the notifications of the followee's new posts to the follower (their posts may be for followers only).
 */
export async function deleteForUnfollows(db: Database, follows: readonly Follow[]): Promise<void> {
  if (follows.length === 0) return;
  await sql`
    delete from notifications n
    using unnest(${follows.map((f) => f.followerId)}::text[], ${follows.map((f) => f.followeeId)}::text[]) as v (follower_id, followee_id)
    where not exists (select 1 from follows f where f.follower_id = v.follower_id and f.followee_id = v.followee_id)
      and ((n.recipient_id = v.followee_id and n.actor_id = v.follower_id and n.type = 'follow' and n.read_at is null)
        or (n.recipient_id = v.follower_id and n.actor_id = v.followee_id and n.type = 'new_post'))`.execute(db);
}

/** A like's notification, to the post's author (not when they liked their own), while the like exists. */
export async function insertLikes(db: Database, likes: readonly (Like & { id: string })[], at: Date): Promise<NotificationRow[]> {
  if (likes.length === 0) return [];
  const { rows } = await sql<NotificationRow>`
    insert into notifications (id, recipient_id, type, actor_id, post_id, created_at)
    select v.id, p.author_id, 'like', l.user_id, p.id, ${at}
    from unnest(${likes.map((l) => l.id)}::text[], ${likes.map((l) => l.postId)}::text[], ${likes.map((l) => l.userId)}::text[]) as v (id, post_id, user_id)
    join post_likes l on l.post_id = v.post_id and l.user_id = v.user_id
    join posts p on p.id = l.post_id
    where p.author_id <> l.user_id and p.withdrawn_at is null
    on conflict do nothing
    returning *`.execute(db);
  return rows;
}

/** After likes were taken back: the unread notifications of those that are still gone. */
export async function deleteForUnlikes(db: Database, likes: readonly Like[]): Promise<void> {
  if (likes.length === 0) return;
  await sql`
    delete from notifications n
    using unnest(${likes.map((l) => l.postId)}::text[], ${likes.map((l) => l.userId)}::text[]) as v (post_id, user_id)
    where n.post_id = v.post_id and n.actor_id = v.user_id and n.type = 'like' and n.read_at is null
      and not exists (select 1 from post_likes l where l.post_id = v.post_id and l.user_id = v.user_id)`.execute(db);
}

/** A sale's notification, to the post's author, while the post is theirs to see and the buyer has an account. */
export async function insertSales(db: Database, sales: readonly (Sale & { id: string })[], at: Date): Promise<NotificationRow[]> {
  if (sales.length === 0) return [];
  const { rows } = await sql<NotificationRow>`
    insert into notifications (id, recipient_id, type, actor_id, post_id, created_at)
    select v.id, p.author_id, 'purchase', v.buyer_id, p.id, ${at}
    from unnest(${sales.map((s) => s.id)}::text[], ${sales.map((s) => s.postId)}::text[], ${sales.map((s) => s.buyerId)}::text[]) as v (id, post_id, buyer_id)
    join posts p on p.id = v.post_id
    where p.author_id <> v.buyer_id and p.withdrawn_at is null
      and exists (select 1 from users u where u.id = v.buyer_id)
    on conflict do nothing
    returning *`.execute(db);
  return rows;
}

/** New posts' notifications, to followers who still ask for them, while the post is there. */
export async function insertNewPosts(db: Database, notices: readonly (NewPostNotice & { id: string })[], at: Date): Promise<NotificationRow[]> {
  if (notices.length === 0) return [];
  const { rows } = await sql<NotificationRow>`
    insert into notifications (id, recipient_id, type, actor_id, post_id, created_at)
    select v.id, v.recipient_id, 'new_post', p.author_id, p.id, ${at}
    from unnest(${notices.map((n) => n.id)}::text[], ${notices.map((n) => n.postId)}::text[], ${notices.map((n) => n.recipientId)}::text[])
      as v (id, post_id, recipient_id)
    join posts p on p.id = v.post_id
    where p.withdrawn_at is null
      and exists (select 1 from follows f where f.follower_id = v.recipient_id and f.followee_id = p.author_id and f.notify)
    on conflict do nothing
    returning *`.execute(db);
  return rows;
}

/** Posts deleted or withdrawn: their notifications go, read or not (deleted ones' go by cascade too). */
export async function deleteForPosts(db: Database, postIds: readonly string[]): Promise<void> {
  if (postIds.length === 0) return;
  await db.deleteFrom('notifications').where(sql<boolean>`post_id = any(${[...postIds]}::text[])`).execute();
}

/** A keyset page of a user's notifications (only unread ones, when asked), newest first. */
export async function listNotifications(
  db: Database,
  query: { recipientId: string; unreadOnly: boolean; beforeId: string | undefined; limit: number },
): Promise<NotificationRow[]> {
  let select = db.selectFrom('notifications').selectAll().where('recipient_id', '=', query.recipientId);
  if (query.unreadOnly) select = select.where('read_at', 'is', null);
  if (query.beforeId !== undefined) select = select.where('id', '<', query.beforeId);
  return select.orderBy('id', 'desc').limit(query.limit).execute();
}

/** A user's unread notifications, counted up to `cap`. */
export async function countUnread(db: Database, recipientId: string, cap: number): Promise<number> {
  const { rows } = await sql<{ count: number }>`
    select count(*)::int as count from (
      select 1 from notifications where recipient_id = ${recipientId} and read_at is null limit ${cap}
    ) capped`.execute(db);
  return rows[0]?.count ?? 0;
}

/** Marks a user's unread notifications read: all, or those up to and including id `upTo`. */
export async function markRead(db: Database, recipientId: string, upTo: string | undefined, at: Date): Promise<void> {
  let update = db.updateTable('notifications').set({ read_at: at }).where('recipient_id', '=', recipientId).where('read_at', 'is', null);
  if (upTo !== undefined) update = update.where('id', '<=', upTo);
  await update.execute();
}
