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
