import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '#platform/db/database.ts';
import type { FeedStore } from '#platform/feeds/types.ts';
import { enqueueAfterCommit } from '#platform/queue/after-commit.ts';
import type { JobQueue } from '#platform/queue/types.ts';
import { errors } from '#http/errors.ts';
import { decodeCursor, decodeTimeCursor, encodeTimeCursor, toPage, type Page } from '#http/pagination.ts';
import { newId } from '#db/ids.ts';
import type { User } from '../accounts/schemas.ts';
import type { AccountsService } from '../accounts/service.ts';
import type { MediaGrant, MediaItem, MediaService } from '../media/service.ts';
import type { SocialService } from '../social/service.ts';
import { TIMELINE_JOBS, type FanOutEvent, type PostEvent } from '../timelines/events.ts';
import { MAX_POST_GRAPHEMES, type NewPost, type Post } from './schemas.ts';
import * as store from './store.ts';
import type { PostRow, PostView } from './store.ts';

export type PageQuery = { limit: number; cursor?: string | undefined };

export type PostsService = ReturnType<typeof createPostsService>;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Posts and likes. Who may see a post: everyone for a public one; for a followers-only one, its
 * author and their followers. Anyone else gets 404, as if it did not exist.
 */
export function createPostsService(deps: {
  db: Database;
  accounts: Pick<AccountsService, 'usersById' | 'userIdOf' | 'toUser' | 'countPost'>;
  media: Pick<MediaService, 'attachable' | 'mediaById' | 'inPost'>;
  social: Pick<SocialService, 'isFollowing' | 'asSeenBy'>;
  queue: JobQueue;
  feeds: Pick<FeedStore, 'add'>;
  logger: FastifyBaseLogger;
}) {
  const { db, accounts, media, social, queue, feeds, logger } = deps;

  /** Whether the caller sees an author's followers-only posts: the author and their followers do. */
  async function inCircle(callerId: string | undefined, authorId: string): Promise<boolean> {
    return callerId !== undefined && (callerId === authorId || (await social.isFollowing(callerId, authorId)));
  }

  const mayRead = (callerId: string | undefined, post: PostRow) => post.visibility === 'public' || inCircle(callerId, post.author_id);

  /**
   * What a post the caller may see lends them of its media: the one rule for the links a post shows
   * and for the bytes read through it. Purchases come with the coins issue: until then only the
   * author reads a paid post's media.
   */
  const grantOf = (callerId: string | undefined, post: Pick<PostRow, 'author_id' | 'price_coins'>): MediaGrant =>
    post.price_coins === 0 || post.author_id === callerId ? 'read' : 'purchase_required';

  async function visiblePost(callerId: string | undefined, id: string): Promise<PostRow> {
    const row = await store.findPost(db, id);
    if (row === undefined || !(await mayRead(callerId, row))) throw errors.notFound('post');
    return row;
  }

  /** Posts as the caller sees them; their media in one more query, when they have any. */
  async function hydrate(callerId: string | undefined, views: readonly PostView[], knownMedia?: ReadonlyMap<string, MediaItem>): Promise<Post[]> {
    const mediaIds = views.flatMap((view) => view.media_ids);
    const mediaItems = knownMedia ?? (mediaIds.length === 0 ? new Map<string, MediaItem>() : await media.mediaById(mediaIds));
    return views.map((view) => {
      const grant = grantOf(callerId, view);
      const items = view.media_ids.flatMap((id) => {
        const item = mediaItems.get(id);
        return item === undefined ? [] : [media.inPost(item, callerId, grant)];
      });
      return {
        id: view.id,
        author: accounts.toUser(view.author),
        text: view.text,
        media: items,
        visibility: view.visibility,
        priceCoins: view.price_coins,
        locked: grant === 'purchase_required',
        purchasedByMe: false,
        likeCount: view.like_count,
        likedByMe: view.liked_by_me,
        createdAt: view.created_at.toISOString(),
      };
    });
  }

  async function page(callerId: string | undefined, query: PageQuery, list: (beforeId: string | undefined) => Promise<PostView[]>) {
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 1)[0];
    const views = await list(beforeId);
    const items = await hydrate(callerId, views.slice(0, query.limit));
    return toPage(views, query.limit, (view) => [view.id], (_, index) => items[index] as Post);
  }

  return {
    async create(authorId: string, input: NewPost): Promise<Post> {
      const length = [...graphemes.segment(input.text)].length;
      if (length > MAX_POST_GRAPHEMES) {
        throw errors.invalidRequest(`A post has at most ${MAX_POST_GRAPHEMES} characters`, [{ path: '/text', message: `has ${length} characters` }]);
      }
      if (input.text.trim() === '' && input.mediaIds.length === 0) {
        throw errors.invalidRequest('A post needs text or media', [{ path: '/text', message: 'is empty and there are no media' }]);
      }
      const attached = await media.attachable(authorId, input.mediaIds);
      const now = new Date();
      const view = await store.insertPost(
        db,
        {
          id: newId(now.getTime()),
          author_id: authorId,
          text: input.text,
          visibility: input.visibility ?? 'public',
          price_coins: input.priceCoins,
          created_at: now,
        },
        input.mediaIds,
        accounts.countPost(db, authorId, 1),
      );
      const entry = { postId: view.id, authorId };
      const inOwnFeed = await feeds.add([authorId], entry).then(
        () => true,
        (error: unknown) => (logger.warn({ err: error, postId: view.id }, 'posts: own feed not written; the fan-out job will'), false),
      );
      // Followers get it from the fan-out job. A follow that committed first was counted (its
      // counter and this post lock the same row); one that commits after backfills this post.
      if (view.author.followers_count > 0 || !inOwnFeed) {
        const event: FanOutEvent = { ...entry, ...(!inOwnFeed && { toAuthor: true }) };
        await queue.enqueue(TIMELINE_JOBS.fanOut, event, { jobId: `fan-out-${view.id}` });
      }
      const [post] = await hydrate(authorId, [view], attached);
      return post as Post;
    },

    /**
     * Whether a signed-in caller may read the bytes of someone else's media item: yes through any
     * post holding it that they may see and that is not locked for them; a paid post they may see
     * but have not bought asks for a purchase; otherwise the item stays hidden.
     */
    async mediaGrant(callerId: string, mediaId: string): Promise<MediaGrant> {
      const holders = await store.postsHoldingMedia(db, callerId, mediaId);
      const grants = holders
        .filter((post) => post.visibility === 'public' || post.author_id === callerId || post.followed)
        .map((post) => grantOf(callerId, post));
      return grants.includes('read') ? 'read' : grants.includes('purchase_required') ? 'purchase_required' : 'none';
    },

    /** Before an account is deleted, in its transaction: its likes leave the posts' counters. */
    async releaseUser(trx: Database, userId: string): Promise<void> {
      await store.releaseLikes(trx, userId);
    },

    async get(callerId: string | undefined, id: string): Promise<Post> {
      const [view] = await store.findViews(db, callerId, [id]);
      if (view === undefined || !(await mayRead(callerId, view))) throw errors.notFound('post');
      const [post] = await hydrate(callerId, [view]);
      return post as Post;
    },

    /** Deletes a post and, with it, its likes and media links. Only its author may. */
    async remove(callerId: string, id: string): Promise<void> {
      const row = await visiblePost(callerId, id);
      if (row.author_id !== callerId) throw errors.forbidden('Only its author may delete a post');
      await enqueueAfterCommit(queue, (jobs) =>
        db.transaction().execute(async (trx) => {
          const event: PostEvent = { postId: id, authorId: callerId };
          if (await store.deletePost(trx, callerId, id, accounts.countPost(trx, callerId, -1))) jobs.add(TIMELINE_JOBS.removePost, event);
        }),
      );
    },

    async like(callerId: string, id: string): Promise<void> {
      await visiblePost(callerId, id);
      await db.transaction().execute((trx) => store.addLike(trx, id, callerId, new Date()));
    },

    async unlike(callerId: string, id: string): Promise<void> {
      await visiblePost(callerId, id);
      await db.transaction().execute((trx) => store.removeLike(trx, id, callerId));
    },

    /** Who liked a post, most recent like first. */
    async likers(callerId: string | undefined, id: string, query: PageQuery): Promise<Page<User>> {
      await visiblePost(callerId, id);
      const cursor = query.cursor === undefined ? undefined : decodeTimeCursor(query.cursor);
      const before = cursor === undefined ? undefined : { at: cursor.at, userId: cursor.id };
      const rows = await store.listLikers(db, { postId: id, before, limit: query.limit + 1 });
      const users = await accounts.usersById(rows.map((row) => row.user_id));
      const shown = rows.slice(0, query.limit).filter((row) => users.has(row.user_id));
      const last = rows.slice(0, query.limit).at(-1);
      return {
        items: await social.asSeenBy(callerId, shown.map((row) => users.get(row.user_id) as User)),
        nextCursor: rows.length > query.limit && last !== undefined ? encodeTimeCursor(last.created_at, last.user_id) : null,
      };
    },

    /** Ids and authors of the newest posts by these authors, older than `beforeId`. */
    latestBy: (authorIds: readonly string[], beforeId: string | undefined, limit: number) =>
      store.postsByAuthors(db, { authorIds, beforeId, limit }),

    /** A home timeline page, hydrated: see `store.homeViews`. */
    async home(query: Parameters<typeof store.homeViews>[1]): Promise<Post[]> {
      return hydrate(query.readerId, await store.homeViews(db, query));
    },

    /** The newest entries of a home timeline, from the follow graph, to rebuild a feed with. */
    homeEntriesFromFollows: (readerId: string, limit: number) => store.homeEntriesFromFollows(db, readerId, limit),

    /** Every public post, newest first: the main page. */
    async publicTimeline(callerId: string | undefined, query: PageQuery): Promise<Page<Post>> {
      return page(callerId, query, (beforeId) => store.listViews(db, callerId, { withFollowersOnly: false, beforeId, limit: query.limit + 1 }));
    },

    /** One user's posts that the caller may see, newest first. */
    async byAuthor(callerId: string | undefined, handle: string, query: PageQuery): Promise<Page<Post>> {
      const authorId = await accounts.userIdOf(handle);
      const withFollowersOnly = await inCircle(callerId, authorId);
      return page(callerId, query, (beforeId) =>
        store.listViews(db, callerId, { authorId, withFollowersOnly, beforeId, limit: query.limit + 1 }),
      );
    },
  };
}
