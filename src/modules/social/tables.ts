export type FollowsTable = { follower_id: string; followee_id: string; created_at: Date };

export type SocialTables = { follows: FollowsTable };
