import type { Migration } from 'kysely/migration';
import * as accounts from './0001_accounts.ts';
import * as memos from './0002_memos.ts';
import * as media from './0003_media.ts';
import * as homeFeeds from './0004_home_feeds.ts';
import * as posts from './0005_posts.ts';
import * as follows from './0006_follows.ts';
import * as homeTimelineReads from './0007_home_timeline_reads.ts';
import * as uploadReservations from './0008_upload_reservations.ts';
import * as avatarIds from './0009_avatar_ids.ts';
import * as outbox from './0010_outbox.ts';
import * as popularUsersAndProcessing from './0011_popular_users_and_processing.ts';
import * as postCountSlots from './0012_post_count_slots.ts';
import * as wallet from './0013_wallet.ts';
import * as walletTopups from './0014_wallet_topups.ts';
import * as withdrawnPosts from './0015_withdrawn_posts.ts';
import * as identities from './0016_identities.ts';
import * as oauthStates from './0017_oauth_states.ts';
import * as oneStatementPurchases from './0018_one_statement_purchases.ts';
import * as notifications from './0019_notifications.ts';
import * as pushSubscriptions from './0020_push_subscriptions.ts';

/** Forward-only migrations, applied in key order. Never edit one that has shipped: add a new one. */
export const migrations: Record<string, Migration> = {
  '0001_accounts': accounts,
  '0002_memos': memos,
  '0003_media': media,
  '0004_home_feeds': homeFeeds,
  '0005_posts': posts,
  '0006_follows': follows,
  '0007_home_timeline_reads': homeTimelineReads,
  '0008_upload_reservations': uploadReservations,
  '0009_avatar_ids': avatarIds,
  '0010_outbox': outbox,
  '0011_popular_users_and_processing': popularUsersAndProcessing,
  '0012_post_count_slots': postCountSlots,
  '0013_wallet': wallet,
  '0014_wallet_topups': walletTopups,
  '0015_withdrawn_posts': withdrawnPosts,
  '0016_identities': identities,
  '0017_oauth_states': oauthStates,
  '0018_one_statement_purchases': oneStatementPurchases,
  '0019_notifications': notifications,
  '0020_push_subscriptions': pushSubscriptions,
};
