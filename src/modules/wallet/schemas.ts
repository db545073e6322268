import Type, { type Static } from 'typebox';

export const MAX_GRANT_COINS = 10_000_000;
export const MAX_GRANT_REASON_LENGTH = 500;

export const Wallet = Type.Object({ balance: Type.Integer(), debt: Type.Integer({ description: 'Coins owed after a refund took back coins already spent' }) }, { title: 'Wallet' });

export const TransactionType = Type.Union([
  Type.Literal('topup'), Type.Literal('purchase'), Type.Literal('sale'), Type.Literal('fee'),
  Type.Literal('grant'), Type.Literal('refund'), Type.Literal('debt'),
]);

export const Transaction = Type.Object(
  {
    id: Type.String(),
    type: TransactionType,
    amount: Type.Integer({ description: 'Coins in (positive) or out (negative) of the wallet' }),
    balanceAfter: Type.Integer(),
    postId: Type.Optional(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Transaction' },
);
export type Transaction = Static<typeof Transaction>;

export const CoinPackage = Type.Object(
  { id: Type.String(), coins: Type.Integer(), amount: Type.Integer({ description: 'Price in the minor unit (cents)' }), currency: Type.String() },
  { title: 'CoinPackage' },
);

export const CoinPackages = Type.Object({ packages: Type.Array(CoinPackage) });

export const NewGrant = Type.Object(
  {
    handle: Type.String({ minLength: 1, maxLength: 64 }),
    coins: Type.Integer({ minimum: 1, maximum: MAX_GRANT_COINS }),
    reason: Type.Optional(Type.String({ maxLength: MAX_GRANT_REASON_LENGTH })),
  },
  { additionalProperties: false },
);
export type NewGrant = Static<typeof NewGrant>;

export const Grant = Type.Object({ transaction: Transaction });

export const Purchase = Type.Object(
  {
    purchase: Type.Object({ id: Type.String(), postId: Type.String(), priceCoins: Type.Integer(), createdAt: Type.String({ format: 'date-time' }) }),
    balance: Type.Integer(),
  },
  { title: 'Purchase' },
);
export type Purchase = Static<typeof Purchase>;

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$', description: 'Replays the first answer for 24 hours' }),
  ),
});

export const NewTopup = Type.Object({ packageId: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export type NewTopup = Static<typeof NewTopup>;

export const Topup = Type.Object(
  {
    id: Type.String(),
    status: Type.Union([Type.Literal('pending'), Type.Literal('credited'), Type.Literal('failed'), Type.Literal('refunded')]),
    coins: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Topup' },
);
export type Topup = Static<typeof Topup>;

export const TopupCreated = Type.Object(
  {
    id: Type.String(),
    status: Type.Literal('pending'),
    coins: Type.Integer(),
    checkoutUrl: Type.String({ description: 'Stripe Checkout: send the buyer here to pay' }),
  },
  { title: 'TopupCreated' },
);

export const StripeWebhookHeaders = Type.Object({ 'stripe-signature': Type.Optional(Type.String({ maxLength: 4096 })) });
