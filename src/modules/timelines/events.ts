/**
 * The jobs that keep home feeds in step with posts and follows. Posts and follows enqueue them once
 * their transaction commits; `jobs.ts` runs them. Every one is idempotent, so a retry does no harm.
 */
export const TIMELINE_JOBS = {
  /** A post was published: add it to each follower's feed (unless its author has too many). */
  fanOut: 'timelines.fan-out',
  /** A post was deleted: take it out of the feeds it reached. */
  removePost: 'timelines.remove-post',
  /** Someone followed an author: copy the author's recent posts into their feed. */
  backfill: 'timelines.backfill',
  /** Someone stopped following an author: take the author's posts out of their feed. */
  unfollow: 'timelines.unfollow',
} as const;

export type PostEvent = { postId: string; authorId: string };
/** `toAuthor`: publishing could not write the post into its author's own feed, so the job does. */
export type FanOutEvent = PostEvent & { toAuthor?: boolean };
export type FollowEvent = { followerId: string; followeeId: string };
