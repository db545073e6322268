/**
 * The floor for the purchases suite: a bare Fastify server running, per request, one transaction of
 * two guarded updates on its own table (`bench_wallets`, which the bench fills before each turn) in
 * the same database as Plaza: the price off the buyer's balance, if it holds that much, then onto the
 * seller's. No auth, validation, schemas, hooks, ledger or logging; buyer, seller and price come
 * from the path. It reads the same environment as Plaza to find the database.
 */
import { serveBareBaseline } from './bare-server.ts';

const DEBIT = 'update bench_wallets set balance = balance - $2 where id = $1 and balance >= $2 returning balance';
const CREDIT = 'update bench_wallets set balance = balance + $2 where id = $1';

/** A refused debit: the transaction rolls back and the answer is 402, as Plaza's would be. */
class ShortOfCoins extends Error {}

serveBareBaseline((app, database) => {
  app.post<{ Params: { buyerId: string; sellerId: string; price: string } }>('/wallets/:buyerId/pay/:sellerId/:price', async (request, reply) => {
    const { buyerId, sellerId } = request.params;
    const price = Number(request.params.price);
    try {
      const balance = await database.transaction(async (query) => {
        const [debited] = await query(DEBIT, [buyerId, price]);
        if (debited === undefined) throw new ShortOfCoins();
        await query(CREDIT, [sellerId, price]);
        return Number(debited.balance);
      });
      return reply.code(201).send({ balance });
    } catch (error) {
      if (error instanceof ShortOfCoins) return reply.code(402).send({ code: 'insufficient_funds' });
      throw error;
    }
  });
});
