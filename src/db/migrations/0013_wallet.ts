import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Ledger accounts: one wallet and one debt account per user (made on first use), and the system
  // accounts coins come from and go to. Only user accounts keep a stored balance, under a guard the
  // database enforces; a system account's balance is the sum of its entries (a stored one would be a
  // row every purchase in the land locks).
  await db.schema
    .createTable('wallet_accounts')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('kind', 'text', (col) =>
      col.notNull().check(sql`kind in ('wallet', 'debt', 'payments_clearing', 'grants', 'platform_fees', 'refunds')`),
    )
    // No foreign key: the ledger outlives a deleted account.
    .addColumn('user_id', 'text')
    .addColumn('balance', 'bigint', (col) => col.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    // A wallet never goes below zero; debt is what a user owes, kept as a balance at or below zero.
    .addCheckConstraint('wallet_accounts_wallet_not_negative', sql`kind <> 'wallet' or balance >= 0`)
    .addCheckConstraint('wallet_accounts_debt_not_positive', sql`kind <> 'debt' or balance <= 0`)
    .addCheckConstraint('wallet_accounts_owner', sql`(kind in ('wallet', 'debt')) = (user_id is not null)`)
    .execute();
  await sql`create unique index wallet_accounts_user_kind on wallet_accounts (user_id, kind) where user_id is not null`.execute(db);
  await sql`
    insert into wallet_accounts (id, kind, created_at)
    select 'system:' || kind, kind, now() from unnest(array['payments_clearing', 'grants', 'platform_fees', 'refunds']) kind`.execute(db);

  // One movement of coins; `made_by` and `reason` say who made a grant and why.
  await db.schema
    .createTable('ledger_transactions')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('kind', 'text', (col) => col.notNull().check(sql`kind in ('topup', 'purchase', 'grant', 'refund')`))
    .addColumn('made_by', 'text')
    .addColumn('reason', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .execute();

  // Append-only: a correction is a new transaction, never an update (the trigger below refuses both).
  // `balance_after` is the account's stored balance once the entry applied (user accounts only).
  await db.schema
    .createTable('ledger_entries')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('transaction_id', 'text', (col) => col.notNull().references('ledger_transactions.id'))
    .addColumn('account_id', 'text', (col) => col.notNull().references('wallet_accounts.id'))
    .addColumn('type', 'text', (col) => col.notNull().check(sql`type in ('topup', 'purchase', 'sale', 'fee', 'grant', 'refund', 'debt')`))
    .addColumn('amount', 'bigint', (col) => col.notNull().check(sql`amount <> 0`))
    .addColumn('balance_after', 'bigint')
    .addColumn('post_id', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addUniqueConstraint('ledger_entries_one_per_account', ['transaction_id', 'account_id'])
    .execute();
  await db.schema.createIndex('ledger_entries_account').on('ledger_entries').columns(['account_id', 'id']).execute();
  await sql`
    create function ledger_entries_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'ledger entries are append-only: record a correction as a new transaction';
    end $$`.execute(db);
  await sql`
    create trigger ledger_entries_append_only before update or delete on ledger_entries
    for each statement execute function ledger_entries_append_only()`.execute(db);

  // One purchase per (buyer, post), by this constraint. No foreign keys: a purchase and its price
  // stay on record whatever happens to the post or either account.
  await db.schema
    .createTable('purchases')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('buyer_id', 'text', (col) => col.notNull())
    .addColumn('post_id', 'text', (col) => col.notNull())
    .addColumn('seller_id', 'text', (col) => col.notNull())
    .addColumn('price_coins', 'integer', (col) => col.notNull().check(sql`price_coins > 0`))
    .addColumn('transaction_id', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addUniqueConstraint('purchases_buyer_post', ['buyer_id', 'post_id'])
    .execute();
  // Checked at commit: the purchase row goes first, so that a second purchase of the pair waits on
  // its unique key (and is refused) before it touches a balance.
  await sql`
    alter table purchases add constraint purchases_transaction_id_fkey foreign key (transaction_id)
    references ledger_transactions (id) deferrable initially deferred`.execute(db);
  // The buyer's library, newest purchase first.
  await db.schema.createIndex('purchases_buyer_id').on('purchases').columns(['buyer_id', 'id']).execute();

  // Idempotency-Key: one row per key (whoever sent it), holding the first answer to replay.
  await db.schema
    .createTable('purchase_idempotency_keys')
    .addColumn('key', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('post_id', 'text', (col) => col.notNull())
    .addColumn('status', 'integer', (col) => col.notNull())
    .addColumn('answer', 'jsonb', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('purchase_idempotency_keys').execute();
  await db.schema.dropTable('purchases').execute();
  await db.schema.dropTable('ledger_entries').execute();
  await sql`drop function ledger_entries_append_only()`.execute(db);
  await db.schema.dropTable('ledger_transactions').execute();
  await db.schema.dropTable('wallet_accounts').execute();
}
