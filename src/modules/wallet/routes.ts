import type { FastifyPluginAsync, onRequestAsyncHookHandler, preValidationAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { errors } from '#http/errors.ts';
import { problemResponses } from '#http/openapi.ts';
import { Page, PageQuery } from '#http/pagination.ts';
import { Post } from '../posts/schemas.ts';
import { CoinPackages, Grant, IdempotencyHeaders, NewGrant, Purchase, Transaction, Wallet } from './schemas.ts';
import type { WalletService } from './service.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export function walletRoutes(deps: { wallet: WalletService; requireCaller: onRequestAsyncHookHandler }): FastifyPluginAsync {
  const { wallet, requireCaller } = deps;
  // Before the body is validated: whatever a non-admin sends, the answer is 403.
  const requireAdmin: preValidationAsyncHookHandler = async (request) => {
    if (!(await wallet.isAdmin(callerOf(request).userId))) throw errors.forbidden('Only operators (ADMIN_EMAILS) may grant coins');
  };
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const signedIn = { onRequest: requireCaller, schema: { tags: ['coins'], security: [{ bearer: [] }] } } as const;

    app.get(
      '/v1/wallet',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Your coin balance and debt', response: { 200: Wallet } } },
      async (request) => wallet.wallet(callerOf(request).userId),
    );

    app.get(
      '/v1/wallet/transactions',
      {
        ...signedIn,
        schema: { ...signedIn.schema, summary: "Your wallet's movements, newest first", querystring: PageQuery, response: { 200: Page(Transaction) } },
      },
      async (request) => wallet.transactions(callerOf(request).userId, request.query),
    );

    app.get(
      '/v1/wallet/packages',
      { schema: { tags: ['coins'], summary: 'The coin packages on sale (COIN_PACKAGES)', response: { 200: CoinPackages } } },
      async () => wallet.packages(),
    );

    app.post(
      '/v1/admin/grants',
      {
        ...signedIn,
        preValidation: requireAdmin,
        schema: {
          ...signedIn.schema,
          summary: "Grant coins to a user's wallet (operators only)",
          body: NewGrant,
          response: { 201: Grant, ...problemResponses(403, 404) },
        },
      },
      async (request, reply) => {
        const transaction = await wallet.grant({ ...request.body, madeBy: `user:${callerOf(request).userId}` });
        return reply.code(201).send({ transaction });
      },
    );

    app.post(
      '/v1/posts/:id/purchase',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Buy a paid post',
          description:
            'Moves the price from your wallet to the author, less the platform fee, once per post. ' +
            'With an `Idempotency-Key`, a repeat gets the first answer again for 24 hours.',
          params: IdParams,
          headers: IdempotencyHeaders,
          response: { 201: Purchase, ...problemResponses(402, 404, 409, 422) },
        },
      },
      async (request, reply) =>
        reply.code(201).send(await wallet.purchase(callerOf(request).userId, request.params.id, request.headers['idempotency-key'])),
    );

    app.get(
      '/v1/library',
      {
        ...signedIn,
        schema: { ...signedIn.schema, summary: 'The posts you bought, newest purchase first', querystring: PageQuery, response: { 200: Page(Post) } },
      },
      async (request) => wallet.library(callerOf(request).userId, request.query),
    );
  };
}
