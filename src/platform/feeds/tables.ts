/** One post in one user's home feed (the PostgreSQL feed store). */
export type HomeFeedsTable = {
  user_id: string;
  post_id: string;
  author_id: string;
};

export type FeedTables = { home_feeds: HomeFeedsTable };
