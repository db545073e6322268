import type { FastifyPluginAsync, onRequestAsyncHookHandler, preValidationAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { errors } from '#http/errors.ts';
import { problemResponses } from '#http/openapi.ts';
import { Page, PageQuery } from '#http/pagination.ts';
import { Post } from '../posts/schemas.ts';
import { CoinPackages, Grant, IdempotencyHeaders, NewGrant, NewTopup, Purchase, StripeWebhookHeaders, Topup, TopupCreated, Transaction, Wallet } from './schemas.ts';
import type { WalletService } from './service.ts';
import type { TopupsService } from './topups.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** Documents a 503 problem: payments are not set up, or Stripe could not be reached. */
const paymentsUnavailable = {
  503: { description: 'payments_unavailable: no STRIPE_SECRET_KEY, or Stripe did not answer', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } },
};

export function walletRoutes(deps: { wallet: WalletService; topups: TopupsService; requireCaller: onRequestAsyncHookHandler }): FastifyPluginAsync {
  const { wallet, topups, requireCaller } = deps;
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
      '/v1/wallet/topups',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Buy a coin package through Stripe Checkout',
          description: 'Opens a Checkout Session for the package; the coins are credited once Stripe reports the payment.',
          body: NewTopup,
          response: { 201: TopupCreated, ...paymentsUnavailable },
        },
      },
      async (request, reply) => reply.code(201).send(await topups.create(callerOf(request).userId, request.body)),
    );

    app.get(
      '/v1/wallet/topups/:id',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'One of your top-ups and its status', params: IdParams, response: { 200: Topup } } },
      async (request) => topups.get(callerOf(request).userId, request.params.id),
    );

    // Its own context: the signature covers the body's exact bytes, so this route alone takes it unparsed.
    await app.register(async (webhooks) => {
      webhooks.removeAllContentTypeParsers();
      webhooks.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      webhooks.withTypeProvider<TypeBoxTypeProvider>().post(
        '/v1/payments/webhooks/stripe',
        {
          schema: {
            tags: ['coins'],
            summary: "Stripe's webhook deliveries (register this URL at Stripe)",
            description: 'Verifies `Stripe-Signature` over the raw body (5 minutes tolerance); acts on each event once.',
            headers: StripeWebhookHeaders,
            response: { 200: Type.Object({ received: Type.Boolean() }), ...paymentsUnavailable },
          },
        },
        async (request) => {
          await topups.receiveWebhook(request.body, request.headers['stripe-signature']);
          return { received: true };
        },
      );
    });

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
