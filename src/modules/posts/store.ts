import { sql, type Insertable, type Selectable } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import type { PostsTable } from './tables.ts';

export type PostRow = Selectable<PostsTable>;

export async function insertPost(db: Database, post: Insertable<PostsTable>, mediaIds: readonly string[]): Promise<PostRow> {
  const row = await db.insertInto('posts').values(post).returningAll().executeTakeFirstOrThrow();
  if (mediaIds.length > 0) {
    await db
      .insertInto('post_media')
      .values(mediaIds.map((mediaId, position) => ({ post_id: post.id, position, media_id: mediaId })))
      .execute();
  }
  await db.updateTable('users').set({ posts_count: sql`posts_count + 1` }).where('id', '=', post.author_id).execute();
  return row;
}

export async function findPost(db: Database, id: string): Promise<PostRow | undefined> {
  return db.selectFrom('posts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function deletePost(db: Database, authorId: string, id: string): Promise<PostRow | undefined> {
  const row = await db.deleteFrom('posts').where('id', '=', id).where('author_id', '=', authorId).returningAll().executeTakeFirst();
  if (row !== undefined) {
    await db.updateTable('users').set({ posts_count: sql`greatest(posts_count - 1, 0)` }).where('id', '=', authorId).execute();
  }
  return row;
}

/** A keyset page of public posts, or of one author's posts (followers-only ones when `withFollowersOnly`). */
export async function listPosts(
  db: Database,
  query: { authorId?: string; withFollowersOnly: boolean; beforeId?: string | undefined; limit: number },
): Promise<PostRow[]> {
  let select = db.selectFrom('posts').selectAll();
  if (query.authorId !== undefined) select = select.where('author_id', '=', query.authorId);
  if (!query.withFollowersOnly) select = select.where('visibility', '=', 'public');
  if (query.beforeId !== undefined) select = select.where('id', '<', query.beforeId);
  return select.orderBy('id', 'desc').limit(query.limit).execute();
}

/** The media ids attached to each of these posts, in their order. */
export async function mediaIdsOf(db: Database, postIds: readonly string[]): Promise<Map<string, string[]>> {
  const byPost = new Map<string, string[]>();
  if (postIds.length === 0) return byPost;
  const rows = await db
    .selectFrom('post_media')
    .select(['post_id', 'media_id'])
    .where('post_id', 'in', postIds)
    .orderBy('post_id')
    .orderBy('position')
    .execute();
  for (const row of rows) byPost.set(row.post_id, [...(byPost.get(row.post_id) ?? []), row.media_id]);
  return byPost;
}

/** Which of these posts `userId` has liked. */
export async function likedAmong(db: Database, userId: string, postIds: readonly string[]): Promise<Set<string>> {
  if (postIds.length === 0) return new Set();
  const rows = await db.selectFrom('post_likes').select('post_id').where('user_id', '=', userId).where('post_id', 'in', postIds).execute();
  return new Set(rows.map((row) => row.post_id));
}

/** Adds a like once; the counter moves only when the row is new. True when it was new. */
export async function addLike(db: Database, postId: string, userId: string, at: Date): Promise<boolean> {
  const inserted = await db
    .insertInto('post_likes')
    .values({ post_id: postId, user_id: userId, created_at: at })
    .onConflict((conflict) => conflict.columns(['post_id', 'user_id']).doNothing())
    .executeTakeFirst();
  if ((inserted.numInsertedOrUpdatedRows ?? 0n) === 0n) return false;
  await db.updateTable('posts').set({ like_count: sql`like_count + 1` }).where('id', '=', postId).execute();
  return true;
}

export async function removeLike(db: Database, postId: string, userId: string): Promise<boolean> {
  const deleted = await db.deleteFrom('post_likes').where('post_id', '=', postId).where('user_id', '=', userId).executeTakeFirst();
  if (deleted.numDeletedRows === 0n) return false;
  await db.updateTable('posts').set({ like_count: sql`like_count - 1` }).where('id', '=', postId).execute();
  return true;
}

/** A keyset page of who liked a post, most recent first. */
export async function listLikers(
  db: Database,
  query: { postId: string; before?: { at: Date; userId: string } | undefined; limit: number },
): Promise<{ user_id: string; created_at: Date }[]> {
  let select = db.selectFrom('post_likes').select(['user_id', 'created_at']).where('post_id', '=', query.postId);
  if (query.before !== undefined) {
    const { at, userId } = query.before;
    select = select.where((eb) => eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('user_id', '<', userId)])]));
  }
  return select.orderBy('created_at', 'desc').orderBy('user_id', 'desc').limit(query.limit).execute();
}

/** Takes a leaving user's likes off the posts' counters (the rows go by cascade). */
export async function releaseLikes(db: Database, userId: string): Promise<void> {
  const liked = db.selectFrom('post_likes').select('post_id').where('user_id', '=', userId);
  await db.updateTable('posts').set({ like_count: sql`like_count - 1` }).where('id', 'in', liked).execute();
}

export async function findPostsByIds(db: Database, ids: readonly string[]): Promise<PostRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('posts').selectAll().where('id', 'in', ids).execute();
}

/** Newest posts (all visibilities) by any of these authors, strictly older than `beforeId`. */
export async function postsByAuthors(
  db: Database,
  query: { authorIds: readonly string[]; beforeId?: string | undefined; limit: number },
): Promise<{ id: string; author_id: string }[]> {
  if (query.authorIds.length === 0) return [];
  let select = db.selectFrom('posts').select(['id', 'author_id']).where('author_id', 'in', query.authorIds);
  if (query.beforeId !== undefined) select = select.where('id', '<', query.beforeId);
  return select.orderBy('id', 'desc').limit(query.limit).execute();
}

/** A home timeline page computed from the follow graph itself: the reader's and their followees' posts. */
export async function homePostsFromFollows(
  db: Database,
  query: { userId: string; beforeId?: string | undefined; limit: number },
): Promise<{ id: string; author_id: string }[]> {
  const followees = db.selectFrom('follows').select('followee_id').where('follower_id', '=', query.userId);
  let select = db
    .selectFrom('posts')
    .select(['id', 'author_id'])
    .where((eb) => eb.or([eb('author_id', '=', query.userId), eb('author_id', 'in', followees)]));
  if (query.beforeId !== undefined) select = select.where('id', '<', query.beforeId);
  return select.orderBy('id', 'desc').limit(query.limit).execute();
}
