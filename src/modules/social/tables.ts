import type { Generated } from 'kysely';

/** `notify`: the follower hears of each new post of the followee. */
export type FollowsTable = { follower_id: string; followee_id: string; created_at: Date; notify: Generated<boolean> };

export type SocialTables = { follows: FollowsTable };
