import type { ColumnType, Generated } from 'kysely';

/** Ledger accounts that belong to a user; the others are the system's (see `SYSTEM_ACCOUNTS`). */
export type UserAccountKind = 'wallet' | 'debt';
export type SystemAccountKind = 'payments_clearing' | 'grants' | 'platform_fees' | 'refunds';
export type AccountKind = UserAccountKind | SystemAccountKind;

export type TransactionKind = 'topup' | 'purchase' | 'grant' | 'refund';
/** What an entry is to its account's owner: API.md's `Transaction.type`. */
export type EntryType = 'topup' | 'purchase' | 'sale' | 'fee' | 'grant' | 'refund' | 'debt';

/** PostgreSQL's bigint comes back as a string; coins are written as numbers. */
type Coins = ColumnType<string, number, number>;

export type WalletAccountsTable = {
  id: string;
  kind: AccountKind;
  user_id: string | null;
  /** Kept for user accounts only (a wallet ≥ 0, a debt ≤ 0); 0 on system accounts, whose balance is their entries' sum. */
  balance: Coins;
  created_at: Date;
};

export type LedgerTransactionsTable = {
  id: string;
  kind: TransactionKind;
  /** Who made a grant (`user:<id>` or `cli:<os user>`); null for movements users make themselves. */
  made_by: string | null;
  reason: string | null;
  created_at: Date;
};

export type LedgerEntriesTable = {
  /** Made by the database as the row is written, under its account's lock (`ledger_entry_id()`, migration 0018). */
  id: Generated<string>;
  transaction_id: string;
  account_id: string;
  type: EntryType;
  amount: Coins;
  balance_after: ColumnType<string | null, number | null, never>;
  post_id: string | null;
  created_at: Date;
};

export type PurchasesTable = {
  id: string;
  buyer_id: string;
  post_id: string;
  seller_id: string;
  price_coins: number;
  transaction_id: string;
  created_at: Date;
};

export type PurchaseIdempotencyKeysTable = {
  key: string;
  user_id: string;
  post_id: string;
  status: number;
  answer: ColumnType<unknown, string, string>;
  created_at: Date;
};

export type TopupStatus = 'pending' | 'credited' | 'failed' | 'refunded';

export type WalletTopupsTable = {
  id: string;
  user_id: string;
  package_id: string;
  coins: number;
  amount: number;
  currency: string;
  status: TopupStatus;
  stripe_session_id: string | null;
  payment_intent_id: string | null;
  created_at: Date;
  credited_transaction_id: string | null;
  refund_transaction_id: string | null;
};

export type PaymentWebhookEventsTable = {
  event_id: string;
  type: string;
  received_at: Date;
};

export type WalletTables = {
  wallet_accounts: WalletAccountsTable;
  ledger_transactions: LedgerTransactionsTable;
  ledger_entries: LedgerEntriesTable;
  purchases: PurchasesTable;
  purchase_idempotency_keys: PurchaseIdempotencyKeysTable;
  wallet_topups: WalletTopupsTable;
  payment_webhook_events: PaymentWebhookEventsTable;
};
