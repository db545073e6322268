import type { AccountTables } from '../modules/accounts/tables.ts';
import type { AuthTables } from '../modules/auth/tables.ts';
import type { MediaTables } from '../modules/media/tables.ts';
import type { MemoTables } from '../modules/memos/tables.ts';
import type { NotificationTables } from '../modules/notifications/tables.ts';
import type { PushTables } from '../modules/push/tables.ts';
import type { PostTables } from '../modules/posts/tables.ts';
import type { SocialTables } from '../modules/social/tables.ts';
import type { UploadTables } from '../modules/uploads/tables.ts';
import type { WalletTables } from '../modules/wallet/tables.ts';
import type { FeedTables } from '../platform/feeds/tables.ts';
import type { OutboxTables } from '../platform/outbox/tables.ts';

/** The whole database as Kysely sees it: each module declares its own tables. */
export type DB = AccountTables & AuthTables & MediaTables & MemoTables & NotificationTables & PushTables & PostTables & SocialTables & UploadTables & WalletTables & FeedTables & OutboxTables;
