import type { Generated } from 'kysely';

export type Visibility = 'public' | 'followers';

export type PostsTable = {
  id: string;
  author_id: string;
  text: string;
  visibility: Visibility;
  price_coins: Generated<number>;
  like_count: Generated<number>;
  created_at: Date;
  /** When its author deleted it while it had buyers: from then on only they see it (see the store). */
  withdrawn_at: Generated<Date | null>;
};

export type PostMediaTable = { post_id: string; position: number; media_id: string };

export type PostLikesTable = { post_id: string; user_id: string; created_at: Date };

export type PostTables = { posts: PostsTable; post_media: PostMediaTable; post_likes: PostLikesTable };
