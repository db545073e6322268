import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A coin purchase through Stripe Checkout. Each unique key is a guard against crediting twice: one
  // session per top-up, one crediting ledger transaction per top-up (and the status moves under the
  // row's lock). No foreign key to accounts: the record outlives a deleted account.
  await db.schema
    .createTable('wallet_topups')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('package_id', 'text', (col) => col.notNull())
    .addColumn('coins', 'integer', (col) => col.notNull().check(sql`coins > 0`))
    .addColumn('amount', 'integer', (col) => col.notNull().check(sql`amount > 0`))
    .addColumn('currency', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('pending', 'credited', 'failed', 'refunded')`))
    // Null until Stripe has answered the session's creation.
    .addColumn('stripe_session_id', 'text', (col) => col.unique())
    // Known once paid: refunds and disputes name the charge's payment intent, not the session.
    .addColumn('payment_intent_id', 'text', (col) => col.unique())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull())
    .addColumn('credited_transaction_id', 'text', (col) => col.unique().references('ledger_transactions.id'))
    .addColumn('refund_transaction_id', 'text', (col) => col.unique().references('ledger_transactions.id'))
    .addCheckConstraint('wallet_topups_credited', sql`(status in ('credited', 'refunded')) = (credited_transaction_id is not null)`)
    .addCheckConstraint('wallet_topups_refunded', sql`(status = 'refunded') = (refund_transaction_id is not null)`)
    .execute();
  await db.schema.createIndex('wallet_topups_user').on('wallet_topups').columns(['user_id', 'id']).execute();
  // The settlement job's scan: pending top-ups, oldest first.
  await sql`create index wallet_topups_pending on wallet_topups (created_at) where status = 'pending'`.execute(db);

  // Every webhook event that changed something, by Stripe's event id: a replay finds its id here and
  // does nothing. Written in the same transaction as the change.
  await db.schema
    .createTable('payment_webhook_events')
    .addColumn('event_id', 'text', (col) => col.primaryKey())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('received_at', 'timestamptz', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('payment_webhook_events').execute();
  await db.schema.dropTable('wallet_topups').execute();
}
