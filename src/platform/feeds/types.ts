import type { authorEntryQuery } from './postgres.ts';

/**
 * One post in one home feed. Post ids are ULIDs: fixed length and time-ordered, so sorting them as
 * bytes sorts them by age, and the feed orders and pages by post id alone.
 */
export type FeedEntry = { readonly postId: string; readonly authorId: string };

/** Posts for feeds: every one of `entries` goes into the feed of every one of `userIds`. */
export type FeedDelivery = { readonly userIds: readonly string[]; readonly entries: readonly FeedEntry[] };

/** An author's posts in one user's feed (what an unfollow takes out). */
export type FeedAuthor = { readonly userId: string; readonly authorId: string };

/** An author's own entry for a new post, as a statement not yet run (see `FeedStore.authorEntry`). */
export type AuthorEntryQuery = ReturnType<typeof authorEntryQuery>;

export type FeedPageQuery = {
  /** Only posts strictly older than this one (the previous page's last post id). */
  beforeId?: string;
  limit: number;
};

export type FeedPage = {
  /** Newest first. */
  readonly postIds: string[];
  /**
   * False when the store cannot vouch for this page: the feed is not built (never, or lost with the
   * cache), or the page reaches past the oldest post the store keeps. The caller then computes the
   * page from PostgreSQL instead (and may `replace` the feed). Stores without a cap are always complete.
   */
  readonly complete: boolean;
};

/** The default cap on a cached feed's length. */
export const DEFAULT_FEED_MAX_LENGTH = 800;

/**
 * Home timelines, filled on write: when someone posts, the relay adds the post to each follower's feed.
 * Every write is idempotent, so an event handled again does no harm. The PostgreSQL store is the whole feed;
 * the Redis store is a capped cache of each feed's newest posts, in front of PostgreSQL.
 */
export interface FeedStore {
  /**
   * How many entries a feed keeps (`Infinity`: no cap). `replace` takes up to this many; a feed
   * given fewer is taken to be whole.
   */
  readonly maxLength: number;
  /**
   * Fan-out: adds each delivery's posts to each of its users' feeds, in one round trip for up to
   * FEED_ENTRIES_PER_WRITE entries (users × posts) however they are split into deliveries, so a
   * batch of posts costs about what one does, and no round trip grows past that bound. A cache
   * skips feeds it has not built (the next read rebuilds them from PostgreSQL anyway).
   */
  add(deliveries: readonly FeedDelivery[]): Promise<void>;
  /**
   * Set where the feeds are a table of the database (the PostgreSQL store): the statement, not yet
   * run, that adds a new post to its author's own feed, for the caller to run or compose into the
   * statement that writes the post, so both commit together. A cache (Redis) has none: it is
   * written apart, with `add`.
   */
  readonly authorEntry?: (entry: FeedEntry) => AuthorEntryQuery;
  /** Deletes a post from these users' feeds (a store may delete it from every feed). */
  removePost(postId: string, userIds: readonly string[]): Promise<void>;
  /** Unfollows: deletes each author's posts from its user's feed, all of them in one round trip. */
  removeAuthors(pairs: readonly FeedAuthor[]): Promise<void>;
  /** A page of the feed, newest first, strictly older than `beforeId`. */
  page(userId: string, query: FeedPageQuery): Promise<FeedPage>;
  /**
   * Rebuilds one user's feed from scratch (after an incomplete page), atomically: readers see the
   * old feed or the new one. `entries` are the feed's newest posts, in any order, as many as
   * `maxLength` where that many exist: fewer means they are the whole feed; if there are as many,
   * the store treats anything older than them as unknown (pages reaching it are incomplete).
   */
  replace(userId: string, entries: readonly FeedEntry[]): Promise<void>;
  /** Resolves when the store answers; rejects otherwise (for readiness checks). */
  ping(): Promise<void>;
  /** Closes what the store opened itself (not a database it was given). */
  close(): Promise<void>;
}
