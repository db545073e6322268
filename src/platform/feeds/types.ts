/**
 * One post in one home feed. Post ids are ULIDs: fixed length and time-ordered, so sorting them as
 * bytes sorts them by age, and the feed orders and pages by post id alone.
 */
export type FeedEntry = { readonly postId: string; readonly authorId: string };

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
 * Home timelines, filled on write: when someone posts, a job adds the post to each follower's feed.
 * Every write is idempotent, so a retried job does no harm. The PostgreSQL store is the whole feed;
 * the Redis store is a capped cache of each feed's newest posts, in front of PostgreSQL.
 */
export interface FeedStore {
  /**
   * How many entries a feed keeps (`Infinity`: no cap). `replace` takes up to this many; a feed
   * given fewer is taken to be whole.
   */
  readonly maxLength: number;
  /**
   * Fan-out: adds one post to each of these users' feeds, in a few round trips however many users.
   * A cache skips feeds it has not built (the next read rebuilds them from PostgreSQL anyway).
   */
  add(userIds: readonly string[], entry: FeedEntry): Promise<void>;
  /** Backfill: adds these posts (say, a newly followed author's latest) to one user's feed. */
  addMany(userId: string, entries: readonly FeedEntry[]): Promise<void>;
  /** Deletes a post from these users' feeds (a store may delete it from every feed). */
  removePost(postId: string, userIds: readonly string[]): Promise<void>;
  /** Unfollow: deletes an author's posts from one user's feed. */
  removeAuthor(userId: string, authorId: string): Promise<void>;
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
