export type NotificationType = 'follow' | 'like' | 'purchase' | 'new_post';

/** One thing a user hears of (see migration 0019): who did what, to which of their posts or to them. */
export type NotificationsTable = {
  id: string;
  recipient_id: string;
  type: NotificationType;
  actor_id: string;
  /** Null for a follow only. */
  post_id: string | null;
  created_at: Date;
  read_at: Date | null;
};

export type NotificationTables = { notifications: NotificationsTable };
