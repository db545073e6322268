import type { Database } from '#platform/db/database.ts';
import { enqueueAfterCommit } from '#platform/queue/after-commit.ts';
import type { JobQueue } from '#platform/queue/types.ts';
import { errors } from '#http/errors.ts';
import { decodeCursor, decodeTimeCursor, encodeTimeCursor, toPage, type Page } from '#http/pagination.ts';
import { newId } from '#db/ids.ts';
import type { User } from '../accounts/schemas.ts';
import type { AccountsService } from '../accounts/service.ts';
import type { MediaService } from '../media/service.ts';
import type { SocialService } from '../social/service.ts';
import { TIMELINE_JOBS, type PostEvent } from '../timelines/events.ts';
import { MAX_POST_GRAPHEMES, type NewPost, type Post } from './schemas.ts';
import * as store from './store.ts';
import type { PostRow } from './store.ts';

export type PageQuery = { limit: number; cursor?: string | undefined };

export type PostsService = ReturnType<typeof createPostsService>;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Posts and likes. Who may see a post: everyone for a public one; for a followers-only one, its
 * author and their followers. Anyone else gets 404, as if it did not exist.
 */
export function createPostsService(deps: {
  db: Database;
  accounts: Pick<AccountsService, 'usersById' | 'userIdOf'>;
  media: Pick<MediaService, 'assertAttachable' | 'mediaById' | 'toMedia' | 'lockedView'>;
  social: Pick<SocialService, 'isFollowing' | 'asSeenBy'>;
  queue: JobQueue;
}) {
  const { db, accounts, media, social, queue } = deps;

  /** Whether the caller sees an author's followers-only posts: the author and their followers do. */
  async function inCircle(callerId: string | undefined, authorId: string): Promise<boolean> {
    return callerId !== undefined && (callerId === authorId || (await social.isFollowing(callerId, authorId)));
  }

  async function visiblePost(callerId: string | undefined, id: string): Promise<PostRow> {
    const row = await store.findPost(db, id);
    if (row === undefined || (row.visibility !== 'public' && !(await inCircle(callerId, row.author_id)))) {
      throw errors.notFound('post');
    }
    return row;
  }

  /** Posts with their authors, media and the caller's likes, in four queries whatever the page holds. */
  async function hydrate(callerId: string | undefined, rows: readonly PostRow[]): Promise<Post[]> {
    const postIds = rows.map((row) => row.id);
    const [authors, mediaIds, liked] = await Promise.all([
      accounts.usersById(rows.map((row) => row.author_id)),
      store.mediaIdsOf(db, postIds),
      callerId === undefined ? new Set<string>() : store.likedAmong(db, callerId, postIds),
    ]);
    const mediaRows = await media.mediaById([...mediaIds.values()].flat());
    return rows.map((row) => {
      // Purchases come with the coins issue: until then only the author reads a paid post's media.
      const locked = row.price_coins > 0 && row.author_id !== callerId;
      const items = (mediaIds.get(row.id) ?? []).flatMap((id) => {
        const item = mediaRows.get(id);
        if (item === undefined) return [];
        return [locked ? media.lockedView(item) : media.toMedia(item)];
      });
      return {
        id: row.id,
        author: authors.get(row.author_id) as User,
        text: row.text,
        media: items,
        visibility: row.visibility,
        priceCoins: row.price_coins,
        locked,
        purchasedByMe: false,
        likeCount: row.like_count,
        likedByMe: liked.has(row.id),
        createdAt: row.created_at.toISOString(),
      };
    });
  }

  async function page(callerId: string | undefined, query: PageQuery, list: (beforeId: string | undefined) => Promise<PostRow[]>) {
    const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 1)[0];
    const rows = await list(beforeId);
    const pageRows = rows.slice(0, query.limit);
    const items = await hydrate(callerId, pageRows);
    return toPage(rows, query.limit, (row) => [row.id], (row) => items[pageRows.indexOf(row)] as Post);
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
      await media.assertAttachable(authorId, input.mediaIds);
      const now = new Date();
      const row = await enqueueAfterCommit(queue, (jobs) =>
        db.transaction().execute(async (trx) => {
          const inserted = await store.insertPost(
            trx,
            {
              id: newId(now.getTime()),
              author_id: authorId,
              text: input.text,
              visibility: input.visibility ?? 'public',
              price_coins: input.priceCoins,
              created_at: now,
            },
            input.mediaIds,
          );
          const event: PostEvent = { postId: inserted.id, authorId };
          jobs.add(TIMELINE_JOBS.fanOut, event, { jobId: `fan-out-${inserted.id}` });
          return inserted;
        }),
      );
      const [post] = await hydrate(authorId, [row]);
      return post as Post;
    },

    /** Before an account is deleted, in its transaction: its likes leave the posts' counters. */
    async releaseUser(trx: Database, userId: string): Promise<void> {
      await store.releaseLikes(trx, userId);
    },

    async get(callerId: string | undefined, id: string): Promise<Post> {
      const [post] = await hydrate(callerId, [await visiblePost(callerId, id)]);
      return post as Post;
    },

    /** Deletes a post and, with it, its likes and media links. Only its author may. */
    async remove(callerId: string, id: string): Promise<void> {
      const row = await visiblePost(callerId, id);
      if (row.author_id !== callerId) throw errors.forbidden('Only its author may delete a post');
      await enqueueAfterCommit(queue, (jobs) =>
        db.transaction().execute(async (trx) => {
          const event: PostEvent = { postId: id, authorId: callerId };
          if (await store.deletePost(trx, callerId, id)) jobs.add(TIMELINE_JOBS.removePost, event);
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

    /** These posts, hydrated for the caller, in the order given; deleted ones are left out. */
    async postsByIds(callerId: string, ids: readonly string[]): Promise<Post[]> {
      const rows = new Map((await store.findPostsByIds(db, ids)).map((row) => [row.id, row]));
      return hydrate(callerId, ids.flatMap((id) => rows.get(id) ?? []));
    },

    /** Ids and authors of the newest posts by these authors, older than `beforeId`. */
    latestBy: (authorIds: readonly string[], beforeId: string | undefined, limit: number) =>
      store.postsByAuthors(db, { authorIds, beforeId, limit }),

    /** A home page straight from the follow graph, for when the feed store cannot answer. */
    homeFromFollows: (userId: string, beforeId: string | undefined, limit: number) =>
      store.homePostsFromFollows(db, { userId, beforeId, limit }),

    /** Every public post, newest first: the main page. */
    async publicTimeline(callerId: string | undefined, query: PageQuery): Promise<Page<Post>> {
      return page(callerId, query, (beforeId) => store.listPosts(db, { withFollowersOnly: false, beforeId, limit: query.limit + 1 }));
    },

    /** One user's posts that the caller may see, newest first. */
    async byAuthor(callerId: string | undefined, handle: string, query: PageQuery): Promise<Page<Post>> {
      const authorId = await accounts.userIdOf(handle);
      const withFollowersOnly = await inCircle(callerId, authorId);
      return page(callerId, query, (beforeId) =>
        store.listPosts(db, { authorId, withFollowersOnly, beforeId, limit: query.limit + 1 }),
      );
    },
  };
}
