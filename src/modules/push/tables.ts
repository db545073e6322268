import type { JSONColumnType } from 'kysely';
import type { PushPayload } from './payload.ts';

/** A browser's push subscription (RFC 8030), held by one user (see migration 0020). */
export type PushSubscriptionsTable = {
  id: string;
  user_id: string;
  /** The push service's URL for this browser: a capability, unique. */
  endpoint: string;
  /** The browser's P-256 public key and auth secret (RFC 8291), base64url as the browser gave them. */
  p256dh: string;
  auth: string;
  created_at: Date;
  registered_at: Date;
};

/** One coalescing window of a recipient's pushes of one type and post (`subject_id`; '' for follows). */
export type PushWindowsTable = {
  user_id: string;
  type: string;
  subject_id: string;
  ends_at: Date;
  /** Notifications that came while the window was open, not pushed yet. */
  held: number;
  latest: JSONColumnType<PushPayload | null, string | null, string | null>;
};

export type PushTables = { push_subscriptions: PushSubscriptionsTable; push_windows: PushWindowsTable };
