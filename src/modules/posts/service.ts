import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '#platform/db/database.ts';
import type { FeedStore } from '#platform/feeds/types.ts';
import type { EmitEvent, Outbox } from '#platform/outbox/types.ts';
import { errors } from '#http/errors.ts';
import { decodeCursor, decodeTimeCursor, encodeTimeCursor, toPage, type Page } from '#http/pagination.ts';
import { newId } from '#db/ids.ts';
import type { User } from '../accounts/schemas.ts';
import type { AccountsService } from '../accounts/service.ts';
import type { MediaGrant, MediaItem, MediaService } from '../media/service.ts';
import type { SocialService } from '../social/service.ts';
import { likedEvent, unlikedEvent } from '../notifications/events.ts';
import { fanOutEvent, removePostEvent } from '../timelines/events.ts';
import { MAX_POST_GRAPHEMES, type NewPost, type Post } from './schemas.ts';
import * as store from './store.ts';
import type { PostRow, PostView } from './store.ts';

export type PageQuery = { limit: number; cursor?: string | undefined };

export type PostsService = ReturnType<typeof createPostsService>;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Posts and likes. Who may see a post: everyone for a public one; for a followers-only one, its
 * author and their followers. Anyone else gets 404, as if it did not exist. A paid post its author
 * deletes (or whose author deletes their account) while it has buyers is withdrawn instead: only its
 * buyers see it from then on, with its media, until the last of them deletes their account.
 */
export function createPostsService(deps: {
  db: Database;
  accounts: Pick<AccountsService, 'usersById' | 'userIdOf' | 'toUser' | 'countPost'>;
  media: Pick<MediaService, 'attachable' | 'mediaById' | 'inPost' | 'forgetUnheld'>;
  social: Pick<SocialService, 'isFollowing' | 'asSeenBy'>;
  outbox: Pick<Outbox, 'transaction' | 'writeWith'>;
  feeds: Pick<FeedStore, 'add' | 'authorEntry'>;
  logger: FastifyBaseLogger;
}) {
  const { db, accounts, media, social, outbox, feeds, logger } = deps;

  /**
   * A cache of feeds (Redis) gets the author's own entry before the post commits, so that a crash
   * right after the commit cannot leave it out; an entry whose post then fails to commit names no
   * post, and pages skip it. False when it could not be written: the fan-out handler writes it.
   */
  async function addToCachedOwnFeed(entry: { postId: string; authorId: string }): Promise<boolean> {
    return feeds.add([{ userIds: [entry.authorId], entries: [entry] }]).then(
      () => true,
      (error: unknown) => (logger.warn({ err: error, postId: entry.postId }, 'posts: own feed not written; the fan-out handler will'), false),
    );
  }

  /** Whether the caller sees an author's followers-only posts: the author and their followers do. */
  async function inCircle(callerId: string | undefined, authorId: string): Promise<boolean> {
    return callerId !== undefined && (callerId === authorId || (await social.isFollowing(callerId, authorId)));
  }

  const mayRead = (callerId: string | undefined, post: Pick<PostRow, 'visibility' | 'author_id'>) => post.visibility === 'public' || inCircle(callerId, post.author_id);

  /**
   * What a post the caller may see lends them of its media: the one rule for the links a post shows
   * and for the bytes read through it. A paid post's media are its author's and its buyers'.
   */
  const grantOf = (callerId: string | undefined, post: Pick<PostView, 'author_id' | 'price_coins' | 'purchased_by_me'>): MediaGrant =>
    post.price_coins === 0 || post.author_id === callerId || post.purchased_by_me ? 'read' : 'purchase_required';

  /** A post the caller may see and act on (like, list likers, delete); a withdrawn one is 404 to all. */
  async function visiblePost(callerId: string | undefined, id: string): Promise<PostRow> {
    const row = await store.findPost(db, id);
    if (row === undefined || !(await mayRead(callerId, row))) throw errors.notFound('post');
    return row;
  }

  /** `mayReadOrBought` for a post read with whether the caller follows its author. */
  const seenBy = (callerId: string | undefined, post: Pick<PostRow, 'author_id' | 'visibility' | 'withdrawn_at'> & { followed: boolean; purchased_by_me: boolean }) =>
    post.purchased_by_me || (post.withdrawn_at === null && (post.visibility === 'public' || post.author_id === callerId || post.followed));

  /** Buyers read what they bought; anyone else a post that is not withdrawn and that they may see. */
  const mayReadOrBought = async (callerId: string | undefined, post: store.PurchasableRow) =>
    post.purchased_by_me || (post.withdrawn_at === null && (await mayRead(callerId, post)));

  /**
   * A post as the caller may see it; 404 if they may not. A buyer keeps what they bought, should they
   * stop following its author, or should its author withdraw it: then only its buyers see it.
   */
  async function readableView(callerId: string | undefined, id: string): Promise<PostView> {
    const [view] = await store.findViews(db, callerId, [id]);
    if (view === undefined || !(await mayReadOrBought(callerId, view))) throw errors.notFound('post');
    return view;
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
        purchasedByMe: view.purchased_by_me,
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
      // A string has at least as many UTF-16 units as graphemes: a short one needs no counting.
      const length = input.text.length <= MAX_POST_GRAPHEMES ? 0 : [...graphemes.segment(input.text)].length;
      if (length > MAX_POST_GRAPHEMES) {
        throw errors.invalidRequest(`A post has at most ${MAX_POST_GRAPHEMES} characters`, [{ path: '/text', message: `has ${length} characters` }]);
      }
      if (input.text.trim() === '' && input.mediaIds.length === 0) {
        throw errors.invalidRequest('A post needs text or media', [{ path: '/text', message: 'is empty and there are no media' }]);
      }
      const attached = await media.attachable(authorId, input.mediaIds);
      const now = new Date();
      const entry = { postId: newId(now.getTime()), authorId };
      const { authorEntry } = feeds;
      const inOwnFeed = authorEntry !== undefined || (await addToCachedOwnFeed(entry));
      // A fan-out event even when nobody follows the author: its handler reads the audience when it
      // runs, after this commit, so a follow committed by then is in it, and one committed later
      // backfills this post. An empty audience costs the handler a share of one query.
      const fanOut = fanOutEvent({ ...entry, ...(!inOwnFeed && { toAuthor: true }) });
      // One statement, so one commit: the post, its media links, the author's counter, their own
      // feed entry where feeds are a table, and the fan-out event.
      const view = await outbox.writeWith([fanOut], (insertEvents) =>
        store.insertPost(
          db,
          { id: entry.postId, author_id: authorId, text: input.text, visibility: input.visibility ?? 'public', price_coins: input.priceCoins, created_at: now },
          input.mediaIds,
          { countAuthorPost: accounts.countPost(authorId, 1), ownFeedEntry: authorEntry?.(entry), insertEvents },
        ),
      );
      const [post] = await hydrate(authorId, [view], attached);
      return post as Post;
    },

    /**
     * Whether a caller (`undefined`: anyone) may read the bytes of someone else's media item: yes through any
     * post holding it that they may see (or bought) and that is not locked for them; a paid post they
     * may see but have not bought asks for a purchase; otherwise the item stays hidden. A withdrawn
     * post lends its media to its buyers only.
     */
    async mediaGrant(callerId: string | undefined, mediaId: string): Promise<MediaGrant> {
      const holders = await store.postsHoldingMedia(db, callerId, mediaId);
      const grants = holders.filter((post) => seenBy(callerId, post)).map((post) => grantOf(callerId, post));
      return grants.includes('read') ? 'read' : grants.includes('purchase_required') ? 'purchase_required' : 'none';
    },

    /**
     * The texts of those of these posts the viewer may see, by id, for what notifications show of
     * them: the rule `get` follows (a locked post's text is shown, as `get` shows it; its media are not).
     */
    async readableTexts(viewerId: string, ids: readonly string[]): Promise<Map<string, string>> {
      const posts = await store.findTexts(db, viewerId, [...new Set(ids)]);
      return new Map(posts.filter((post) => seenBy(viewerId, post)).map((post) => [post.id, post.text]));
    },

    /** A post the caller may see, as a purchase needs it: its author, its price, and whether they bought it (404 for one they may not see). */
    async purchasable(callerId: string, id: string): Promise<{ id: string; authorId: string; priceCoins: number; bought: boolean }> {
      const post = await store.findPurchasable(db, callerId, id);
      if (post === undefined || !(await mayReadOrBought(callerId, post))) throw errors.notFound('post');
      return { id: post.id, authorId: post.author_id, priceCoins: post.price_coins, bought: post.purchased_by_me };
    },

    /**
     * The statement a purchase composes into its own: it holds the post against its deletion until
     * the purchase commits (a deletion then withdraws it for the buyer), and has no row when the post
     * went meanwhile.
     */
    holdForPurchase: store.holdPostQuery,

    /** A buyer's purchased posts (withdrawn ones too), in the order of `ids`, as the buyer sees them; deleted ones are left out. */
    async asBought(buyerId: string, ids: readonly string[]): Promise<Post[]> {
      const views = new Map((await store.findViews(db, buyerId, ids)).map((view) => [view.id, view]));
      return hydrate(buyerId, ids.flatMap((id) => views.get(id) ?? []));
    },

    /**
     * Before an account is deleted, in its transaction: its likes leave the posts' counters; its
     * posts that buyers hold are withdrawn and the others deleted; and the withdrawn posts it bought
     * that no other buyer holds are deleted, with their media once their owner is gone too.
     */
    async releaseUser(trx: Database, userId: string, emit: EmitEvent): Promise<void> {
      await store.lockPostsOf(trx, userId);
      await store.releaseLikes(trx, userId);
      await store.releaseAuthor(trx, userId, new Date());
      const unheld = await store.releaseBuyer(trx, userId);
      if (unheld.length > 0) await media.forgetUnheld(trx, emit, unheld);
    },

    async get(callerId: string | undefined, id: string): Promise<Post> {
      const [post] = await hydrate(callerId, [await readableView(callerId, id)]);
      return post as Post;
    },

    /**
     * Deletes a post and, with it, its likes and media links; withdraws it instead (its likes gone)
     * while buyers hold it. Either way it leaves every page and feed. Only its author may.
     */
    async remove(callerId: string, id: string): Promise<void> {
      const row = await visiblePost(callerId, id);
      if (row.author_id !== callerId) throw errors.forbidden('Only its author may delete a post');
      await outbox.transaction(db, async (trx, emit) => {
        if (await store.removePost(trx, callerId, id, new Date(), accounts.countPost(callerId, -1))) await emit(removePostEvent({ postId: id, authorId: callerId }));
      });
    },

    /** A new like tells the post's author (see notifications), after it commits. */
    async like(callerId: string, id: string): Promise<void> {
      await visiblePost(callerId, id);
      await outbox.transaction(db, async (trx, emit) => {
        if (await store.addLike(trx, id, callerId, new Date())) await emit(likedEvent({ postId: id, userId: callerId }));
      });
    },

    async unlike(callerId: string, id: string): Promise<void> {
      await visiblePost(callerId, id);
      await outbox.transaction(db, async (trx, emit) => {
        if (await store.removeLike(trx, id, callerId)) await emit(unlikedEvent({ postId: id, userId: callerId }));
      });
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

    /** Ids and authors of the newest posts of each of these authors, up to `limit` each. */
    latestOfEach: (authorIds: readonly string[], limit: number) => store.latestOfEach(db, authorIds, limit),

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
