import { sql, type RawBuilder, type Selectable } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import type { AuthorEntryQuery } from '#platform/feeds/types.ts';
import { postsCountOf, type PostCountQuery, type PublicUserRow } from '../accounts/service.ts';
import type { PostsTable } from './tables.ts';

export type PostRow = Selectable<PostsTable>;

/** A post as written: every column but its like counter, which starts at 0, and its withdrawal. */
export type NewPostRow = Omit<PostRow, 'like_count' | 'withdrawn_at'>;

/** A post as pages show it: with its author, its media ids in order, and whether the viewer liked and bought it. */
export type PostView = PostRow & { author: PublicUserRow; media_ids: string[]; liked_by_me: boolean; purchased_by_me: boolean };

// Pages read posts with their authors in the same query: a round trip to the database costs more
// than the join. A read-only join of accounts' `users` (its columns as `PublicUserRow` names them),
// and a read of their posts count as accounts keeps it. A left join: a withdrawn post outlives its
// author's account, and its buyers still read it.
const AUTHOR_COLUMNS = [
  'a.handle as author_handle',
  'a.name as author_name',
  'a.bio as author_bio',
  'a.avatar_id as author_avatar_id',
  'a.created_at as author_created_at',
  'a.followers_count as author_followers_count',
  'a.following_count as author_following_count',
] as const;
const authorPostsCount = postsCountOf(sql.ref('a.id'));

/** The author columns are null when the author's account is gone (a withdrawn post's buyers still read it). */
type ViewRow = PostRow & {
  author_handle: string | null;
  author_name: string | null;
  author_bio: string | null;
  author_avatar_id: string | null;
  author_created_at: Date | null;
  author_followers_count: number | null;
  author_following_count: number | null;
  author_posts_count: number;
  media_ids: string[];
  liked_by_me: boolean;
  purchased_by_me: boolean;
};

/**
 * The author of a post whose account is gone, as its buyers see it. Its handle has a character no
 * handle may have (`-`: see accounts' `Handle`), so it names no one and leads to no profile.
 */
const DELETED_AUTHOR = { handle: 'deleted-account', name: 'Deleted account' } as const;

function authorOf(row: ViewRow): PublicUserRow {
  if (row.author_handle === null) {
    return { id: row.author_id, ...DELETED_AUTHOR, bio: '', avatar_id: null, created_at: new Date(0), followers_count: 0, following_count: 0, posts_count: 0 };
  }
  return {
    id: row.author_id,
    handle: row.author_handle,
    name: row.author_name as string,
    bio: row.author_bio as string,
    avatar_id: row.author_avatar_id,
    created_at: row.author_created_at as Date,
    followers_count: row.author_followers_count as number,
    following_count: row.author_following_count as number,
    posts_count: row.author_posts_count,
  };
}

function toView(row: ViewRow): PostView {
  return {
    id: row.id,
    author_id: row.author_id,
    text: row.text,
    visibility: row.visibility,
    price_coins: row.price_coins,
    like_count: row.like_count,
    created_at: row.created_at,
    withdrawn_at: row.withdrawn_at,
    media_ids: row.media_ids,
    liked_by_me: row.liked_by_me,
    purchased_by_me: row.purchased_by_me,
    author: authorOf(row),
  };
}

/**
 * Whether `viewerId` bought post `p`: a read-only look into wallet's purchases, in the same query.
 * Only paid posts are looked up: a page of free ones costs no probe.
 */
const boughtBy = (viewerId: string | undefined) =>
  viewerId === undefined ? sql<boolean>`false` : sql<boolean>`(p.price_coins > 0 and exists (select 1 from purchases pu where pu.buyer_id = ${viewerId} and pu.post_id = p.id))`;

/**
 * Whether post `p` has a buyer whose account still exists (other than `leavingId`, a buyer whose
 * account is being deleted): such a post is withdrawn rather than deleted, and kept while it has one.
 * Read-only looks into wallet's purchases and accounts' users. Asked only with the post locked (see
 * `lockPosts`), in a statement after the lock's: it then sees every deletion of the post or of its
 * buyers' and author's accounts that ran meanwhile, so a withdrawn post is never left without buyers.
 */
const heldByBuyers = (leavingId?: string) => sql<boolean>`(p.price_coins > 0 and exists (
  select 1 from purchases pu join users b on b.id = pu.buyer_id
  where pu.post_id = p.id${leavingId === undefined ? sql`` : sql` and pu.buyer_id <> ${leavingId}`}))`;

/** Posts (`p`) with their authors, media ids and the viewer's like and purchase: one query, however many posts. */
function selectViews(db: Database, viewerId: string | undefined) {
  const likedByViewer =
    viewerId === undefined
      ? sql<boolean>`false`
      : sql<boolean>`exists (select 1 from post_likes l where l.post_id = p.id and l.user_id = ${viewerId})`;
  return db
    .selectFrom('posts as p')
    // Read-only join of accounts' users: the authors come with their posts.
    .leftJoin('users as a', 'a.id', 'p.author_id')
    .selectAll('p')
    .select(AUTHOR_COLUMNS)
    .select([
      authorPostsCount.as('author_posts_count'),
      sql<string[]>`array(select pm.media_id from post_media pm where pm.post_id = p.id order by pm.position)`.as('media_ids'),
      likedByViewer.as('liked_by_me'),
      boughtBy(viewerId).as('purchased_by_me'),
    ]);
}

/**
 * Writes a post, its media links, its author's counter, the author's own feed entry when given and
 * the outbox's events in one statement (so one commit, and no lock held across round trips), and
 * returns the post as pages show it. The counter is accounts' to write, the feed the feed store's
 * and the events the outbox's: `countAuthorPost` (accounts' `countPost`), `ownFeedEntry` (the
 * store's `authorEntry`) and `insertEvents` (from the outbox's `writeWith`) are their statements,
 * composed here as common table expressions. A template, not the query builder: built and
 * compiled on every post, the builder took about 35 µs of CPU, the template 8.
 */
export async function insertPost(
  db: Database,
  post: NewPostRow,
  mediaIds: readonly string[],
  composed: { countAuthorPost: PostCountQuery; ownFeedEntry: AuthorEntryQuery | undefined; insertEvents: RawBuilder<unknown> },
): Promise<PostView> {
  const { countAuthorPost, ownFeedEntry, insertEvents } = composed;
  const media = [...mediaIds];
  const { rows } = await sql<ViewRow>`
    with inserted as (
      insert into posts (id, author_id, text, visibility, price_coins, created_at)
      values (${post.id}, ${post.author_id}, ${post.text}, ${post.visibility}, ${post.price_coins}, ${post.created_at})
      returning *
    ), attached as (
      insert into post_media (post_id, position, media_id)
      select ${post.id}, m.position - 1, m.id from unnest(${media}::text[]) with ordinality as m (id, position)
    ), counted as (${countAuthorPost}),
    ${ownFeedEntry === undefined ? sql`` : sql`own_entry as (${ownFeedEntry}),`}
    events as (${insertEvents})
    select p.*, ${sql.join(AUTHOR_COLUMNS.map((column) => sql.raw(column)))},
      -- The statement's snapshot does not see its own counter's write: this post is one more.
      ${authorPostsCount} + 1 as author_posts_count,
      ${media}::text[] as media_ids, false as liked_by_me, false as purchased_by_me
    from inserted p join users a on a.id = p.author_id`.execute(db);
  return toView(rows[0] as ViewRow);
}

/** What deciding a purchase reads of a post: who may see it, its price, and whether the viewer bought it. */
export type PurchasableRow = Pick<PostRow, 'id' | 'author_id' | 'visibility' | 'price_coins' | 'withdrawn_at'> & { purchased_by_me: boolean };

/** A post as a purchase needs it (withdrawn ones too: their buyers get 409, not 404). */
export async function findPurchasable(db: Database, viewerId: string, id: string): Promise<PurchasableRow | undefined> {
  const { rows } = await sql<PurchasableRow>`
    select p.id, p.author_id, p.visibility, p.price_coins, p.withdrawn_at, ${boughtBy(viewerId)} as purchased_by_me
    from posts p where p.id = ${id}`.execute(db);
  return rows[0];
}

/** A post, unless it is withdrawn (then it is there for its buyers only, see `findViews`). */
export async function findPost(db: Database, id: string): Promise<PostRow | undefined> {
  return db.selectFrom('posts').selectAll().where('id', '=', id).where('withdrawn_at', 'is', null).executeTakeFirst();
}

/** Locks these posts (a one-column subquery of ids) until the transaction ends, in id order, so that lockers never deadlock. */
async function lockPosts(db: Database, ids: RawBuilder<unknown>): Promise<void> {
  await sql`select id from posts where id in (${ids}) order by id for update`.execute(db);
}

/**
 * Takes the author's post away: withdrawn (its likes gone) when buyers with an account hold it,
 * else deleted. When there was one, runs `uncountAuthorPost` (accounts' `countPost`, -1) too. True then.
 */
export async function removePost(db: Database, authorId: string, id: string, at: Date, uncountAuthorPost: PostCountQuery): Promise<boolean> {
  await lockPosts(db, sql`select ${id}::text`);
  const withdrawn = await db
    .updateTable('posts as p')
    .set({ withdrawn_at: at, like_count: 0 })
    .where('p.id', '=', id)
    .where('p.author_id', '=', authorId)
    .where('p.withdrawn_at', 'is', null)
    .where(heldByBuyers())
    .executeTakeFirst();
  if (withdrawn.numUpdatedRows > 0n) {
    await db.deleteFrom('post_likes').where('post_id', '=', id).execute();
  } else {
    const deleted = await db.deleteFrom('posts').where('id', '=', id).where('author_id', '=', authorId).where('withdrawn_at', 'is', null).executeTakeFirst();
    if (deleted.numDeletedRows === 0n) return false;
  }
  await uncountAuthorPost.execute(db);
  return true;
}

/**
 * For a purchase's statement: holds the post until its transaction commits (`for key share`, which
 * only a deletion's lock waits on), so that a deletion after it sees the purchase and withdraws the
 * post instead. No row when the post is gone or withdrawn already.
 */
export const holdPostQuery = (id: string): RawBuilder<unknown> => sql`select id from posts where id = ${id} and withdrawn_at is null for key share`;

/**
 * A user's account is going: locks their posts and those they bought, before `releaseAuthor` and
 * `releaseBuyer` ask who holds them.
 */
export async function lockPostsOf(db: Database, userId: string): Promise<void> {
  // Read-only look into wallet's purchases.
  await lockPosts(db, sql`select id from posts where author_id = ${userId} union select post_id from purchases where buyer_id = ${userId}`);
}

/**
 * An author's account is going (their posts locked): those that buyers hold are withdrawn (their
 * likes gone), the others deleted (their media links and likes with them).
 */
export async function releaseAuthor(db: Database, authorId: string, at: Date): Promise<void> {
  const withdrawn = await db
    .updateTable('posts as p')
    .set({ withdrawn_at: at, like_count: 0 })
    .where('p.author_id', '=', authorId)
    .where('p.withdrawn_at', 'is', null)
    .where(heldByBuyers())
    .returning('p.id')
    .execute();
  if (withdrawn.length > 0) await db.deleteFrom('post_likes').where('post_id', 'in', withdrawn.map((row) => row.id)).execute();
  await db.deleteFrom('posts as p').where('p.author_id', '=', authorId).where(sql<boolean>`not ${heldByBuyers()}`).execute();
}

/**
 * A buyer's account is going (what they bought locked): the withdrawn posts they bought that no other
 * buyer with an account holds are deleted. Answers the media those posts held (their links go with them).
 */
export async function releaseBuyer(db: Database, buyerId: string): Promise<string[]> {
  const { rows } = await sql<{ media_id: string }>`
    with gone as (
      delete from posts p
      where p.withdrawn_at is not null
        and p.id in (select pu.post_id from purchases pu where pu.buyer_id = ${buyerId})
        and not ${heldByBuyers(buyerId)}
      returning p.id
    )
    -- The statement's snapshot still sees the links the delete takes away.
    select distinct pm.media_id from post_media pm where pm.post_id in (select id from gone)`.execute(db);
  return rows.map((row) => row.media_id);
}

/** A keyset page of public posts, or of one author's posts (followers-only ones when `withFollowersOnly`). */
export async function listViews(
  db: Database,
  viewerId: string | undefined,
  query: { authorId?: string; withFollowersOnly: boolean; beforeId?: string | undefined; limit: number },
): Promise<PostView[]> {
  let select = selectViews(db, viewerId).where('p.withdrawn_at', 'is', null);
  if (query.authorId !== undefined) select = select.where('p.author_id', '=', query.authorId);
  if (!query.withFollowersOnly) select = select.where('p.visibility', '=', 'public');
  if (query.beforeId !== undefined) select = select.where('p.id', '<', query.beforeId);
  const rows = await select.orderBy('p.id', 'desc').limit(query.limit).execute();
  return rows.map(toView);
}

/** These posts (those that still exist, withdrawn ones too: the caller decides who sees those), in no particular order. */
export async function findViews(db: Database, viewerId: string | undefined, ids: readonly string[]): Promise<PostView[]> {
  if (ids.length === 0) return [];
  const rows = await selectViews(db, viewerId).where('p.id', 'in', ids).execute();
  return rows.map(toView);
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

/** The posts a media item is attached to (withdrawn ones too), with whether `viewerId` follows each one's author and bought it. */
export async function postsHoldingMedia(
  db: Database,
  viewerId: string | undefined,
  mediaId: string,
): Promise<(Pick<PostRow, 'author_id' | 'visibility' | 'price_coins' | 'withdrawn_at'> & { followed: boolean; purchased_by_me: boolean })[]> {
  const followed =
    viewerId === undefined ? sql<boolean>`false` : sql<boolean>`exists (select 1 from follows f where f.follower_id = ${viewerId} and f.followee_id = p.author_id)`;
  return db
    .selectFrom('post_media as pm')
    .innerJoin('posts as p', 'p.id', 'pm.post_id')
    .select(['p.author_id', 'p.visibility', 'p.price_coins', 'p.withdrawn_at'])
    // Read-only look into social's follows, in the same query.
    .select(followed.as('followed'))
    .select(boughtBy(viewerId).as('purchased_by_me'))
    .where('pm.media_id', '=', mediaId)
    .execute();
}

/** These posts' texts (withdrawn ones too), with whether `viewerId` follows each one's author and bought it. */
export async function findTexts(
  db: Database,
  viewerId: string,
  ids: readonly string[],
): Promise<(Pick<PostRow, 'id' | 'text' | 'author_id' | 'visibility' | 'withdrawn_at'> & { followed: boolean; purchased_by_me: boolean })[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom('posts as p')
    .select(['p.id', 'p.text', 'p.author_id', 'p.visibility', 'p.withdrawn_at'])
    // Read-only look into social's follows, in the same query.
    .select(sql<boolean>`exists (select 1 from follows f where f.follower_id = ${viewerId} and f.followee_id = p.author_id)`.as('followed'))
    .select(boughtBy(viewerId).as('purchased_by_me'))
    .where('p.id', 'in', ids)
    .execute();
}

/**
 * Whose posts a home page merges in at read time, besides the feed's: everyone the reader follows
 * and the reader (`'all'`: the whole timeline, when there is no feed to read), or the followed
 * among these popular users, whose posts are never fanned out.
 */
export type MergedAuthors = 'all' | { popular: readonly string[] };

/** The reader and everyone they follow, as a one-column subquery (a read of social's follows). */
const readerAndFollowees = (readerId: string) =>
  sql`select ${readerId}::text union all select f.followee_id from follows f where f.follower_id = ${readerId}`;

/**
 * Each of `authors` (a one-column subquery)' newest posts within `bounds`, up to `limit` each:
 * every author's come from their own index range, however many authors there are.
 */
const newestOf = (authors: RawBuilder<unknown>, bounds: (column: RawBuilder<unknown>) => RawBuilder<unknown>, limit: number) => sql`
  select recent.id, recent.author_id from (${authors}) as authors (id)
  cross join lateral (
    select r.id, r.author_id from posts r where r.author_id = authors.id and r.withdrawn_at is null and ${bounds(sql.ref('r.id'))}
    order by r.id desc limit ${limit}
  ) recent`;

/** The newest posts (all visibilities) of each of these authors, up to `limit` each, in one query. */
export async function latestOfEach(db: Database, authorIds: readonly string[], limit: number): Promise<{ id: string; author_id: string }[]> {
  if (authorIds.length === 0) return [];
  const authors = sql`select unnest(${[...authorIds]}::text[])`;
  return (await sql<{ id: string; author_id: string }>`${newestOf(authors, () => sql`true`, limit)}`.execute(db)).rows;
}

/**
 * A home timeline page for `readerId`: the posts named by their feed (`feedIds`) merged with the
 * newest posts of `merged` authors, newest first. Only the reader's own posts and those of authors
 * they still follow are kept (a feed may lag behind an unfollow), all at or above `floorId` when
 * given (the oldest post the feed page vouches for) and strictly below `beforeId`.
 */
export async function homeViews(
  db: Database,
  query: {
    readerId: string;
    feedIds: readonly string[];
    merged: MergedAuthors;
    floorId?: string | undefined;
    beforeId?: string | undefined;
    limit: number;
  },
): Promise<PostView[]> {
  const { readerId, beforeId, floorId, limit, merged } = query;
  const window = (column: RawBuilder<unknown>) => {
    const bounds = [...(beforeId === undefined ? [] : [sql`${column} < ${beforeId}`]), ...(floorId === undefined ? [] : [sql`${column} >= ${floorId}`])];
    return bounds.length === 0 ? sql`true` : sql.join(bounds, sql` and `);
  };
  // Read-only looks into social's follows: whom the reader follows decides what the page holds.
  const authors =
    merged === 'all'
      ? readerAndFollowees(readerId)
      : sql`select f.followee_id from follows f where f.follower_id = ${readerId} and f.followee_id = any(${[...merged.popular]}::text[])`;
  const candidates =
    merged !== 'all' && merged.popular.length === 0
      ? sql`p.id = any(${[...query.feedIds]}::text[])`
      : sql`p.id in (select unnest(${[...query.feedIds]}::text[]) union all select merged.id from (${newestOf(authors, window, limit)}) merged)`;
  const rows = await selectViews(db, readerId)
    .where(sql<boolean>`${candidates} and ${window(sql.ref('p.id'))} and p.withdrawn_at is null`)
    .where(
      sql<boolean>`(p.author_id = ${readerId} or exists (select 1 from follows f where f.follower_id = ${readerId} and f.followee_id = p.author_id))`,
    )
    .orderBy('p.id', 'desc')
    .limit(limit)
    .execute();
  return rows.map(toView);
}

/** The ids and authors of the newest posts of a home timeline, from the follow graph (to rebuild a feed). */
export async function homeEntriesFromFollows(db: Database, readerId: string, limit: number): Promise<{ id: string; author_id: string }[]> {
  const newest = newestOf(readerAndFollowees(readerId), () => sql`true`, limit);
  const rows = await sql<{ id: string; author_id: string }>`select * from (${newest}) entries order by id desc limit ${limit}`.execute(db);
  return rows.rows;
}
