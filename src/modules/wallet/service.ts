import type { Database } from '#platform/db/database.ts';
import type { Outbox } from '#platform/outbox/types.ts';
import { AppError, errors } from '#http/errors.ts';
import { decodeCursor, toPage, type Page } from '#http/pagination.ts';
import { newId } from '#db/ids.ts';
import type { WalletConfig } from '../../config.ts';
import type { AccountsService } from '../accounts/service.ts';
import type { Post } from '../posts/schemas.ts';
import type { PostsService } from '../posts/service.ts';
import { purchasedEvent } from './events.ts';
import type { NewGrant, Purchase, Transaction } from './schemas.ts';
import * as store from './store.ts';
import type { EntryRow } from './store.ts';

export type PageQuery = { limit: number; cursor?: string | undefined };

export type WalletService = ReturnType<typeof createWalletService>;

/** How long an Idempotency-Key replays its first answer. */
const IDEMPOTENCY_WINDOW_MS = 24 * 3600_000;

/** Expired keys are deleted this many at a time, so no statement holds many row locks for long. */
const SWEEP_BATCH = 1000;

const walletErrors = {
  insufficientFunds: () => new AppError(402, 'insufficient_funds', 'Your wallet holds fewer coins than this post costs'),
  inDebt: (debt: number) =>
    new AppError(402, 'wallet_in_debt', `Your wallet owes ${debt} coins (a refunded top-up's coins were already spent): a top-up repays them first`, {
      extra: { debt },
    }),
  alreadyPurchased: () => new AppError(409, 'already_purchased', 'You have bought this post already: it is in your library'),
  keyReused: () =>
    new AppError(422, 'idempotency_key_reused', 'This Idempotency-Key was sent with another request: use a new key for each purchase'),
};

/** The key was taken meanwhile by another request: its answer is the one to give. */
class KeyTaken extends Error {}

export const toTransaction = (entry: EntryRow): Transaction => ({
  id: entry.transaction_id,
  type: entry.type,
  amount: entry.amount,
  balanceAfter: entry.balance_after ?? 0,
  ...(entry.post_id !== null && { postId: entry.post_id }),
  createdAt: entry.created_at.toISOString(),
});

/**
 * Mints coins into a user's wallet from the grants account, with who made the grant (`madeBy`:
 * `user:<id>` or `cli:<os user>`) and why on record. The server's route and `plaza admin
 * grant-coins` both come here.
 */
export async function grantCoins(
  deps: { db: Database; accounts: Pick<AccountsService, 'userIdOf'> },
  input: NewGrant & { madeBy: string },
): Promise<Transaction> {
  const { db, accounts } = deps;
  const userId = await accounts.userIdOf(input.handle);
  const at = new Date();
  const id = newId(at.getTime());
  const reason = input.reason?.trim() || undefined;
  await db.transaction().execute((trx) =>
    store.transfer(trx, {
      id,
      kind: 'grant',
      madeBy: input.madeBy,
      ...(reason !== undefined && { reason }),
      at,
      entries: [
        { account: { kind: 'grants' }, type: 'grant', amount: -input.coins },
        { account: { kind: 'wallet', userId }, type: 'grant', amount: input.coins },
      ],
    }),
  );
  return toTransaction((await store.walletEntryOf(db, id, userId)) as EntryRow);
}

/**
 * Coins: wallets, grants, purchases and the buyer's library, over a double-entry ledger (see the
 * store). Every movement is one ledger transaction in one database transaction.
 */
export function createWalletService(deps: {
  db: Database;
  outbox: Pick<Outbox, 'writeWith'>;
  accounts: Pick<AccountsService, 'userIdOf' | 'getAccount'>;
  posts: Pick<PostsService, 'purchasable' | 'holdForPurchase' | 'asBought'>;
  adminEmails: readonly string[];
  config: WalletConfig;
}) {
  const { db, outbox, accounts, posts, config } = deps;
  const admins = new Set(deps.adminEmails);

  /**
   * Why a purchase statement was refused, asked afterwards: the post went meanwhile (404, from
   * posts) or a concurrent purchase of the pair came first, else the buyer's debt, else too few coins.
   */
  async function refusal(buyerId: string, postId: string): Promise<AppError> {
    if ((await posts.purchasable(buyerId, postId)).bought) return walletErrors.alreadyPurchased();
    const { debt } = await store.balancesOf(db, buyerId);
    return debt > 0 ? walletErrors.inDebt(debt) : walletErrors.insufficientFunds();
  }

  /**
   * One purchase: what posts says of the post (who may see it, its price, whether the buyer has
   * it), then one statement that writes all of it or nothing (see `store.recordPurchase`), with the
   * sale's outbox event for the seller to hear of it. With an Idempotency-Key, the key is taken
   * first, in the same transaction: a concurrent request under it waits there.
   */
  async function buy(buyerId: string, postId: string, key: string | undefined): Promise<Purchase> {
    const post = await posts.purchasable(buyerId, postId);
    if (post.authorId === buyerId) throw errors.invalidRequest('You cannot buy your own post');
    if (post.priceCoins === 0) throw errors.invalidRequest('This post is free: there is nothing to buy');
    // Racing requests of the pair are turned away by the purchase's unique key instead.
    if (post.bought) throw walletErrors.alreadyPurchased();
    const price = post.priceCoins;
    const fee = Math.floor((price * config.platformFeePercent) / 100);
    const at = new Date();
    const purchase = { id: newId(at.getTime()), buyer_id: buyerId, post_id: postId, seller_id: post.authorId, price_coins: price, transaction_id: newId(at.getTime()), created_at: at };
    const sale = purchasedEvent({ purchaseId: purchase.id, postId, buyerId, sellerId: post.authorId, priceCoins: price });
    const answer = (balance: number): Purchase => ({ purchase: { id: purchase.id, postId, priceCoins: price, createdAt: at.toISOString() }, balance });
    try {
      return await outbox.writeWith([sale], async (insertEvents) => {
        const write = { purchase, fee, holdPost: posts.holdForPurchase(postId), insertEvents };
        if (key === undefined) return answer(await store.recordPurchase(db, write));
        return db.transaction().execute(async (trx) => {
          if (!(await claim(trx, key, buyerId, postId, 0, null))) throw new KeyTaken();
          const bought = answer(await store.recordPurchase(trx, write));
          await store.recordIdempotentAnswer(trx, key, 201, bought);
          return bought;
        });
      });
    } catch (error) {
      if (error instanceof store.AlreadyPurchased) throw walletErrors.alreadyPurchased();
      if (error instanceof store.PurchaseRefused) throw await refusal(buyerId, postId);
      throw error;
    }
  }

  const claim = (trx: Database, key: string, userId: string, postId: string, status: number, answer: unknown) =>
    store.claimIdempotencyKey(trx, { key, user_id: userId, post_id: postId, status, answer, created_at: new Date() }, new Date(Date.now() - IDEMPOTENCY_WINDOW_MS));

  /** The first answer given under `key`, again; 422 when it was given to another request. */
  async function replay(key: string, buyerId: string, postId: string): Promise<Purchase | undefined> {
    const first = await store.findIdempotencyKey(db, key, new Date(Date.now() - IDEMPOTENCY_WINDOW_MS));
    if (first === undefined) return undefined;
    if (first.user_id !== buyerId || first.post_id !== postId) throw walletErrors.keyReused();
    if (first.status === 201) return first.answer as Purchase;
    const { code, detail, extra } = first.answer as { code: string; detail: string; extra: Record<string, unknown> };
    throw new AppError(first.status, code, detail, { extra });
  }

  return {
    async wallet(userId: string): Promise<{ balance: number; debt: number }> {
      return store.balancesOf(db, userId);
    },

    /** The wallet's movements, newest first. */
    async transactions(userId: string, query: PageQuery): Promise<Page<Transaction>> {
      const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 1)[0];
      const rows = await store.listWalletEntries(db, userId, { beforeId, limit: query.limit + 1 });
      return toPage(rows, query.limit, (row) => [row.id], toTransaction);
    },

    packages: () => ({ packages: [...config.coinPackages] }),

    /** Whether this account's email is one of ADMIN_EMAILS. */
    async isAdmin(userId: string): Promise<boolean> {
      const { email } = await accounts.getAccount(userId);
      return email !== null && admins.has(email.toLowerCase());
    },

    grant: (input: NewGrant & { madeBy: string }) => grantCoins({ db, accounts }, input),

    /**
     * Buys a post. With an Idempotency-Key, the first answer under it (a refusal too) is the answer
     * to every repeat for 24 hours; the key sent with another post, or by another user, is 422.
     */
    async purchase(buyerId: string, postId: string, key?: string): Promise<Purchase> {
      if (key === undefined) return buy(buyerId, postId, undefined);
      const earlier = await replay(key, buyerId, postId);
      if (earlier !== undefined) return earlier;
      try {
        return await buy(buyerId, postId, key);
      } catch (error) {
        if (!(error instanceof KeyTaken) && !(error instanceof AppError && error.status < 500)) throw error;
        if (error instanceof AppError) {
          const refused = { code: error.code, detail: error.message, extra: error.extra };
          if (await db.transaction().execute((trx) => claim(trx, key, buyerId, postId, error.status, refused))) throw error;
        }
        // Another request under this key answered first.
        const first = await replay(key, buyerId, postId);
        if (first === undefined) throw error;
        return first;
      }
    },

    /** Forgets Idempotency-Keys past their window (a live key's row is its replay). */
    async sweepIdempotencyKeys(): Promise<number> {
      const before = new Date(Date.now() - IDEMPOTENCY_WINDOW_MS);
      let removed = 0;
      for (;;) {
        const batch = await store.deleteIdempotencyKeysBefore(db, before, SWEEP_BATCH);
        removed += batch;
        if (batch < SWEEP_BATCH) return removed;
      }
    },

    /** The buyer's purchased posts, newest purchase first, as the buyer sees them. */
    async library(buyerId: string, query: PageQuery): Promise<Page<Post>> {
      const beforeId = query.cursor === undefined ? undefined : decodeCursor(query.cursor, 1)[0];
      const rows = await store.listPurchases(db, buyerId, { beforeId, limit: query.limit + 1 });
      const bought = await posts.asBought(buyerId, rows.slice(0, query.limit).map((row) => row.post_id));
      const byId = new Map(bought.map((post) => [post.id, post]));
      const page = toPage(rows, query.limit, (row) => [row.id], (row) => row.post_id);
      // A post deleted between the two reads is left out of this page.
      return { items: page.items.flatMap((id) => byId.get(id) ?? []), nextCursor: page.nextCursor };
    },
  };
}
