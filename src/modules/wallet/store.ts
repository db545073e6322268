import { sql, type RawBuilder } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import { violatedUniqueConstraint } from '#platform/db/errors.ts';
import type { EntryType, PurchasesTable, SystemAccountKind, TransactionKind, UserAccountKind, WalletTopupsTable } from './tables.ts';

/** A ledger account: a user's own (made on first use) or one of the system's. */
export type AccountRef = { kind: UserAccountKind; userId: string } | { kind: SystemAccountKind };

export const accountIdOf = (account: AccountRef): string =>
  'userId' in account ? `${account.kind}:${account.userId}` : `system:${account.kind}`;

/** One line of a movement. */
export type EntryInput = { account: AccountRef; type: EntryType; amount: number; postId?: string };

export type TransferInput = {
  id: string;
  kind: TransactionKind;
  madeBy?: string;
  reason?: string;
  at: Date;
  entries: readonly EntryInput[];
};

/** A guarded debit found the account short: nothing of the transfer may commit. */
export class InsufficientFunds extends Error {
  readonly accountId: string;
  constructor(accountId: string) {
    super(`account ${accountId} cannot be debited`);
    this.name = 'InsufficientFunds';
    this.accountId = accountId;
  }
}

export type EntryRow = { id: string; transaction_id: string; type: EntryType; amount: number; balance_after: number | null; post_id: string | null; created_at: Date };

/**
 * Writes one ledger transaction in the caller's transaction `trx`: its entries (which must sum to
 * zero) and, for user accounts, their balances, moved by guarded updates in account-id order (so
 * two transfers never wait on each other's rows in opposite orders). Throws `InsufficientFunds` when
 * a guard refuses: the caller's transaction must then roll back, and nothing of it is written.
 * Answers each user account's balance after the transfer, by account id.
 */
export async function transfer(trx: Database, input: TransferInput): Promise<Map<string, number>> {
  const sum = input.entries.reduce((total, entry) => total + entry.amount, 0);
  if (sum !== 0 || input.entries.some((entry) => !Number.isSafeInteger(entry.amount) || entry.amount === 0)) {
    throw new Error(`unbalanced or malformed ledger transaction ${input.id}`);
  }
  const entries = input.entries.map((entry) => ({ ...entry, accountId: accountIdOf(entry.account) }));
  const balances = new Map<string, number>();
  for (const entry of [...entries].sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0))) {
    if ('userId' in entry.account) balances.set(entry.accountId, await moveBalance(trx, entry.account, entry.accountId, entry.amount));
  }
  await trx
    .insertInto('ledger_transactions')
    .values({ id: input.id, kind: input.kind, made_by: input.madeBy ?? null, reason: input.reason ?? null, created_at: input.at })
    .execute();
  await trx
    .insertInto('ledger_entries')
    .values(
      // Their ids are the database's, made as the rows are written, with the balances locked: a
      // wallet's entries sort in the order they applied.
      entries.map((entry) => ({
        transaction_id: input.id,
        account_id: entry.accountId,
        type: entry.type,
        amount: entry.amount,
        balance_after: balances.get(entry.accountId) ?? null,
        post_id: entry.postId ?? null,
        created_at: input.at,
      })),
    )
    .execute();
  return balances;
}

/**
 * Moves a user account's balance by `amount` and answers the new one. A move that cannot break the
 * account's bound (crediting a wallet, adding to a debt) makes the account if need be; any other is
 * a guarded update that changes no row when the bound would break.
 */
async function moveBalance(trx: Database, account: { kind: UserAccountKind; userId: string }, id: string, amount: number): Promise<number> {
  const safe = account.kind === 'wallet' ? amount > 0 : amount < 0;
  if (safe) {
    const { rows } = await sql<{ balance: string }>`
      insert into wallet_accounts (id, kind, user_id, balance, created_at) values (${id}, ${account.kind}, ${account.userId}, ${amount}, now())
      on conflict (id) do update set balance = wallet_accounts.balance + excluded.balance
      returning balance`.execute(trx);
    return Number(rows[0]?.balance);
  }
  const bound = account.kind === 'wallet' ? sql`balance >= ${-amount}` : sql`balance <= ${-amount}`;
  const { rows } = await sql<{ balance: string }>`
    update wallet_accounts set balance = balance + ${amount} where id = ${id} and ${bound}
    returning balance`.execute(trx);
  if (rows[0] === undefined) throw new InsufficientFunds(id);
  return Number(rows[0].balance);
}

/** A user's wallet balance and debt (as a positive number); 0 for accounts not made yet. */
export async function balancesOf(db: Database, userId: string): Promise<{ balance: number; debt: number }> {
  const rows = await db.selectFrom('wallet_accounts').select(['kind', 'balance']).where('user_id', '=', userId).execute();
  const of = (kind: UserAccountKind) => Number(rows.find((row) => row.kind === kind)?.balance ?? 0);
  return { balance: of('wallet'), debt: -of('debt') };
}

/** A keyset page of a user's wallet entries, newest first. */
export async function listWalletEntries(db: Database, userId: string, query: { beforeId?: string | undefined; limit: number }): Promise<EntryRow[]> {
  let select = db
    .selectFrom('ledger_entries')
    .select(['id', 'transaction_id', 'type', 'amount', 'balance_after', 'post_id', 'created_at'])
    .where('account_id', '=', accountIdOf({ kind: 'wallet', userId }));
  if (query.beforeId !== undefined) select = select.where('id', '<', query.beforeId);
  const rows = await select.orderBy('id', 'desc').limit(query.limit).execute();
  return rows.map(toEntry);
}

/** The wallet entry a transaction made on a user's wallet. */
export async function walletEntryOf(db: Database, transactionId: string, userId: string): Promise<EntryRow | undefined> {
  const row = await db
    .selectFrom('ledger_entries')
    .select(['id', 'transaction_id', 'type', 'amount', 'balance_after', 'post_id', 'created_at'])
    .where('transaction_id', '=', transactionId)
    .where('account_id', '=', accountIdOf({ kind: 'wallet', userId }))
    .executeTakeFirst();
  return row === undefined ? undefined : toEntry(row);
}

function toEntry(row: { id: string; transaction_id: string; type: EntryType; amount: string; balance_after: string | null; post_id: string | null; created_at: Date }): EntryRow {
  return { ...row, amount: Number(row.amount), balance_after: row.balance_after === null ? null : Number(row.balance_after) };
}

export type PurchaseRow = PurchasesTable;

/**
 * A guarded debit refused the purchase (too few coins, the buyer in debt), or the post went before
 * it was held: nothing of the purchase was written.
 */
export class PurchaseRefused extends Error {
  constructor() {
    super('the purchase was refused: nothing of it was written');
    this.name = 'PurchaseRefused';
  }
}

/** The buyer has this post already (the purchase's unique key): nothing of this purchase was written. */
export class AlreadyPurchased extends Error {
  constructor() {
    super('the buyer has this post already');
    this.name = 'AlreadyPurchased';
  }
}

/**
 * A whole purchase in one statement, so in one round trip (its own transaction on `db`, or part of
 * the caller's): holds the post (`holdPost`, posts' statement: no row when it is gone or withdrawn),
 * locks both wallets in id order (so two purchases never wait on each other's rows in opposite
 * orders), takes the price from the buyer under the guard (enough coins, no debt), records the
 * purchase, credits the seller's share, and writes the ledger transaction (its entries' ids made by
 * the database once the balances are locked: see migration 0018) and `insertEvents` (the outbox's
 * statement). Answers the buyer's balance after it.
 *
 * Every write is one statement's, so any that fails undoes them all, the outbox's event with them.
 * The purchase row takes its price from the debit: when the guard refuses there is none, its NOT
 * NULL breaks, and the statement fails with `PurchaseRefused`. A second purchase of the pair breaks
 * its unique key instead (`AlreadyPurchased`): a concurrent one waits for the first to end, on the
 * buyer's wallet, then finds it.
 */
export async function recordPurchase(
  db: Database,
  input: { purchase: PurchaseRow; fee: number; holdPost: RawBuilder<unknown>; insertEvents: RawBuilder<unknown> },
): Promise<number> {
  const { purchase: p, fee, holdPost, insertEvents } = input;
  const share = p.price_coins - fee;
  if (fee < 0 || share < 0) throw new Error(`malformed purchase ${p.id}: price ${p.price_coins}, fee ${fee}`);
  const buyer = accountIdOf({ kind: 'wallet', userId: p.buyer_id });
  const seller = accountIdOf({ kind: 'wallet', userId: p.seller_id });
  const debt = accountIdOf({ kind: 'debt', userId: p.buyer_id });
  // From the buyer to the seller and to the platform's fees, either of which may get 0 (PLATFORM_FEE_PERCENT).
  const entries = [
    sql`(${buyer}, 'purchase', ${-p.price_coins}::bigint, (select balance from debit))`,
    ...(share > 0 ? [sql`(${seller}, 'sale', ${share}::bigint, (select balance from credit))`] : []),
    ...(fee > 0 ? [sql`(${accountIdOf({ kind: 'platform_fees' })}, 'fee', ${fee}::bigint, null::bigint)`] : []),
  ];
  try {
    const { rows } = await sql<{ balance: string }>`
      with held as (${holdPost}),
      locked as (
        select id from wallet_accounts where id in (${buyer}, ${seller}) and exists (select 1 from held) order by id for update
      ), debit as (
        update wallet_accounts set balance = balance - ${p.price_coins}
        where id = ${buyer} and balance >= ${p.price_coins} and (select count(*) from locked) > 0
          and not exists (select 1 from wallet_accounts d where d.id = ${debt} and d.balance < 0)
        returning balance
      ), bought as (
        insert into purchases (id, buyer_id, post_id, seller_id, price_coins, transaction_id, created_at)
        values (${p.id}, ${p.buyer_id}, ${p.post_id}, ${p.seller_id}, (select ${p.price_coins}::integer from debit), ${p.transaction_id}, ${p.created_at}::timestamptz)
      ), credit as (
        insert into wallet_accounts (id, kind, user_id, balance, created_at)
        select ${seller}, 'wallet', ${p.seller_id}, ${share}::bigint, now() from debit where ${share}::bigint > 0
        on conflict (id) do update set balance = wallet_accounts.balance + excluded.balance
        returning balance
      ), recorded as (
        insert into ledger_transactions (id, kind, created_at) values (${p.transaction_id}, 'purchase', ${p.created_at}::timestamptz) returning id
      ), entries as (
        insert into ledger_entries (transaction_id, account_id, type, amount, balance_after, post_id, created_at)
        select recorded.id, e.account_id, e.type, e.amount, e.balance_after, ${p.post_id}, ${p.created_at}::timestamptz
        from recorded, (values ${sql.join(entries)}) e (account_id, type, amount, balance_after)
      ), events as (${insertEvents})
      select balance from debit`.execute(db);
    return Number(rows[0]!.balance);
  } catch (error) {
    throw refusalOf(error) ?? error;
  }
}

/** The refusal a failed purchase statement stands for, if it is one. */
function refusalOf(error: unknown): Error | undefined {
  if (violatedUniqueConstraint(error) === 'purchases_buyer_post') return new AlreadyPurchased();
  const { code, table, column } = error as { code?: unknown; table?: unknown; column?: unknown };
  return code === '23502' && table === 'purchases' && column === 'price_coins' ? new PurchaseRefused() : undefined;
}

/** A keyset page of a buyer's purchases of posts that still exist, newest purchase first. */
export async function listPurchases(db: Database, buyerId: string, query: { beforeId?: string | undefined; limit: number }): Promise<PurchaseRow[]> {
  let select = db
    .selectFrom('purchases as pu')
    .selectAll('pu')
    .where('pu.buyer_id', '=', buyerId)
    // Read-only look into posts': a deleted post leaves the library.
    .where(({ exists, selectFrom }) => exists(selectFrom('posts as p').select('p.id').whereRef('p.id', '=', 'pu.post_id')));
  if (query.beforeId !== undefined) select = select.where('pu.id', '<', query.beforeId);
  return select.orderBy('pu.id', 'desc').limit(query.limit).execute();
}

export type IdempotentAnswer = { key: string; user_id: string; post_id: string; status: number; answer: unknown };

/**
 * Takes an Idempotency-Key, with its answer or one to record before commit, unless a live one holds
 * it (one younger than `liveSince`): true when taken. A concurrent taker of the same key waits for
 * this transaction.
 */
export async function claimIdempotencyKey(trx: Database, row: IdempotentAnswer & { created_at: Date }, liveSince: Date): Promise<boolean> {
  const { rows } = await sql<{ key: string }>`
    insert into purchase_idempotency_keys (key, user_id, post_id, status, answer, created_at)
    values (${row.key}, ${row.user_id}, ${row.post_id}, ${row.status}, ${JSON.stringify(row.answer)}::jsonb, ${row.created_at})
    on conflict (key) do update set user_id = excluded.user_id, post_id = excluded.post_id, status = excluded.status,
      answer = excluded.answer, created_at = excluded.created_at
    where purchase_idempotency_keys.created_at < ${liveSince}
    returning key`.execute(trx);
  return rows.length > 0;
}

/** The answer a key taken in this transaction (`claimIdempotencyKey`) replays. */
export async function recordIdempotentAnswer(trx: Database, key: string, status: number, answer: unknown): Promise<void> {
  await trx.updateTable('purchase_idempotency_keys').set({ status, answer: JSON.stringify(answer) }).where('key', '=', key).execute();
}

export async function findIdempotencyKey(db: Database, key: string, liveSince: Date): Promise<IdempotentAnswer | undefined> {
  return db
    .selectFrom('purchase_idempotency_keys')
    .select(['key', 'user_id', 'post_id', 'status', 'answer'])
    .where('key', '=', key)
    .where('created_at', '>=', liveSince)
    .executeTakeFirst();
}

/** Deletes up to `limit` keys taken before `before`; how many went. */
export async function deleteIdempotencyKeysBefore(db: Database, before: Date, limit: number): Promise<number> {
  const expired = db.selectFrom('purchase_idempotency_keys').select('key').where('created_at', '<', before).limit(limit);
  const { numDeletedRows } = await db.deleteFrom('purchase_idempotency_keys').where('key', 'in', expired).executeTakeFirst();
  return Number(numDeletedRows);
}

export type TopupRow = WalletTopupsTable;

export async function insertTopup(db: Database, row: TopupRow): Promise<void> {
  await db.insertInto('wallet_topups').values(row).execute();
}

export async function setTopupSession(db: Database, id: string, sessionId: string): Promise<void> {
  await db.updateTable('wallet_topups').set({ stripe_session_id: sessionId }).where('id', '=', id).execute();
}

export async function findTopup(db: Database, id: string): Promise<TopupRow | undefined> {
  return db.selectFrom('wallet_topups').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Pending top-ups made before `before`, oldest first: those whose outcome may have gone unheard. */
export async function pendingTopups(db: Database, before: Date, limit: number): Promise<TopupRow[]> {
  return db.selectFrom('wallet_topups').selectAll().where('status', '=', 'pending').where('created_at', '<', before).orderBy('created_at').limit(limit).execute();
}

/**
 * Records a webhook event as acted on, in the transaction that acts on it: false when it was
 * already (a concurrent delivery of the same event waits here for the first one's outcome).
 */
export async function recordWebhookEvent(trx: Database, event: { id: string; type: string }, at: Date): Promise<boolean> {
  const inserted = await trx
    .insertInto('payment_webhook_events')
    .values({ event_id: event.id, type: event.type, received_at: at })
    .onConflict((conflict) => conflict.column('event_id').doNothing())
    .executeTakeFirst();
  return (inserted.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/**
 * Locks the top-up a paid session is for, unless it was credited already: the lock makes a
 * concurrent crediting wait, and then find it credited.
 */
export async function lockCreditableTopup(trx: Database, sessionId: string): Promise<TopupRow | undefined> {
  return trx
    .selectFrom('wallet_topups')
    .selectAll()
    .where('stripe_session_id', '=', sessionId)
    .where('status', 'in', ['pending', 'failed'])
    .forUpdate()
    .executeTakeFirst();
}

export async function markTopupCredited(trx: Database, id: string, transactionId: string, paymentIntentId: string | null): Promise<void> {
  await trx
    .updateTable('wallet_topups')
    .set({ status: 'credited', credited_transaction_id: transactionId, payment_intent_id: paymentIntentId })
    .where('id', '=', id)
    .execute();
}

/** Marks a pending top-up failed; false when it is not pending (paid, or failed already). */
export async function markTopupFailed(db: Database, where: { sessionId: string } | { id: string }): Promise<boolean> {
  const updated = await db
    .updateTable('wallet_topups')
    .set({ status: 'failed' })
    .where('sessionId' in where ? 'stripe_session_id' : 'id', '=', 'sessionId' in where ? where.sessionId : where.id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}

/** Locks the credited top-up a payment intent paid for, unless its coins were taken back already. */
export async function lockRefundableTopup(trx: Database, paymentIntentId: string): Promise<TopupRow | undefined> {
  return trx.selectFrom('wallet_topups').selectAll().where('payment_intent_id', '=', paymentIntentId).where('status', '=', 'credited').forUpdate().executeTakeFirst();
}

export async function markTopupRefunded(trx: Database, id: string, transactionId: string): Promise<void> {
  await trx.updateTable('wallet_topups').set({ status: 'refunded', refund_transaction_id: transactionId }).where('id', '=', id).execute();
}

/**
 * Locks a user's wallet, then their debt, and answers both (debt as a positive number). Top-ups and
 * take-backs move the two together; taking them in this one order keeps two of them from waiting
 * on each other.
 */
export async function lockBalances(trx: Database, userId: string): Promise<{ balance: number; debt: number }> {
  const { rows } = await sql<{ kind: UserAccountKind; balance: string }>`
    select kind, balance from wallet_accounts where id in (${accountIdOf({ kind: 'wallet', userId })}, ${accountIdOf({ kind: 'debt', userId })})
    order by id desc for update`.execute(trx);
  const of = (kind: UserAccountKind) => Number(rows.find((row) => row.kind === kind)?.balance ?? 0);
  return { balance: of('wallet'), debt: -of('debt') };
}

/**
 * Every invariant of the ledger, as one line per breach (none when it holds): each transaction has
 * entries that sum to zero, each stored balance equals its entries' sum, no wallet is below zero and
 * no debt above it, each purchase's transaction took its price from its buyer (and each purchase
 * transaction is one purchase's), each credited top-up
 * has exactly one top-up transaction of its coins (and each top-up transaction its top-up), and each
 * refunded one a take-back of its coins.
 */
export async function ledgerBreaches(db: Database): Promise<string[]> {
  const unbalanced = await sql<{ id: string; sum: string; n: string }>`
    select t.id, coalesce(sum(e.amount), 0) sum, count(e.id) n from ledger_transactions t left join ledger_entries e on e.transaction_id = t.id
    group by t.id having coalesce(sum(e.amount), 0) <> 0 or count(e.id) = 0 order by t.id`.execute(db);
  const drifted = await sql<{ id: string; balance: string; sum: string }>`
    select a.id, a.balance, coalesce(sum(e.amount), 0) sum from wallet_accounts a left join ledger_entries e on e.account_id = a.id
    where a.kind in ('wallet', 'debt') group by a.id, a.balance having a.balance <> coalesce(sum(e.amount), 0) order by a.id`.execute(db);
  const systemStored = await sql<{ id: string; balance: string }>`
    select id, balance from wallet_accounts where kind not in ('wallet', 'debt') and balance <> 0 order by id`.execute(db);
  const outOfBounds = await sql<{ id: string; balance: string }>`
    select id, balance from wallet_accounts where (kind = 'wallet' and balance < 0) or (kind = 'debt' and balance > 0) order by id`.execute(db);
  const unpaid = await sql<{ id: string; price_coins: number; paid: string | null }>`
    select pu.id, pu.price_coins, e.amount paid from purchases pu
    left join ledger_entries e on e.transaction_id = pu.transaction_id and e.account_id = 'wallet:' || pu.buyer_id
    where e.amount is distinct from -pu.price_coins order by pu.id`.execute(db);
  const orphanSales = await sql<{ id: string }>`
    select lt.id from ledger_transactions lt where lt.kind = 'purchase'
    and (select count(*) from purchases pu where pu.transaction_id = lt.id) <> 1 order by lt.id`.execute(db);
  const uncredited = await sql<{ id: string; coins: number; credited: string | null }>`
    select t.id, t.coins, e.amount credited from wallet_topups t
    left join ledger_transactions lt on lt.id = t.credited_transaction_id and lt.kind = 'topup'
    left join ledger_entries e on e.transaction_id = lt.id and e.account_id = 'system:payments_clearing'
    where t.status in ('credited', 'refunded') and e.amount is distinct from -t.coins order by t.id`.execute(db);
  const unclaimed = await sql<{ id: string }>`
    select lt.id from ledger_transactions lt where lt.kind = 'topup'
    and (select count(*) from wallet_topups t where t.credited_transaction_id = lt.id) <> 1 order by lt.id`.execute(db);
  const unrefunded = await sql<{ id: string; coins: number; taken: string | null }>`
    select t.id, t.coins, e.amount taken from wallet_topups t
    left join ledger_transactions lt on lt.id = t.refund_transaction_id and lt.kind = 'refund'
    left join ledger_entries e on e.transaction_id = lt.id and e.account_id = 'system:refunds'
    where t.status = 'refunded' and e.amount is distinct from t.coins order by t.id`.execute(db);
  return [
    ...unbalanced.rows.map((row) => `transaction ${row.id}: ${row.n === '0' ? 'has no entries' : `entries sum to ${row.sum}, not 0`}`),
    ...drifted.rows.map((row) => `account ${row.id}: balance ${row.balance}, but its entries sum to ${row.sum}`),
    ...systemStored.rows.map((row) => `account ${row.id}: a system account with a stored balance (${row.balance})`),
    ...outOfBounds.rows.map((row) => `account ${row.id}: balance ${row.balance} is out of bounds`),
    ...unpaid.rows.map((row) => `purchase ${row.id}: price ${row.price_coins}, but the buyer paid ${row.paid === null ? 'nothing' : -Number(row.paid)}`),
    ...orphanSales.rows.map((row) => `transaction ${row.id}: a purchase transaction that is not one purchase's`),
    ...uncredited.rows.map((row) => `top-up ${row.id}: ${row.coins} coins, but its top-up transaction credited ${row.credited === null ? 'nothing' : -Number(row.credited)}`),
    ...unclaimed.rows.map((row) => `transaction ${row.id}: a top-up transaction that is not one credited top-up's`),
    ...unrefunded.rows.map((row) => `top-up ${row.id}: refunded, but ${row.taken === null ? 'nothing' : Number(row.taken)} of its ${row.coins} coins were taken back`),
  ];
}
