import Type, { type Static } from 'typebox';
import { User } from '../accounts/schemas.ts';
import { LockedMedia, Media } from '../media/schemas.ts';

export const MAX_POST_GRAPHEMES = 500;
export const MAX_POST_MEDIA = 4;
export const MAX_PRICE_COINS = 1_000_000;

export const Visibility = Type.Union([Type.Literal('public'), Type.Literal('followers')]);

export const NewPost = Type.Object(
  {
    text: Type.String({ default: '', maxLength: MAX_POST_GRAPHEMES * 10, description: `At most ${MAX_POST_GRAPHEMES} characters as people count them (grapheme clusters)` }),
    mediaIds: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { default: [], maxItems: MAX_POST_MEDIA, uniqueItems: true }),
    priceCoins: Type.Integer({ minimum: 0, maximum: MAX_PRICE_COINS, default: 0 }),
    visibility: Type.Optional(Visibility),
  },
  { additionalProperties: false },
);
export type NewPost = Static<typeof NewPost>;

export const Post = Type.Object(
  {
    id: Type.String(),
    author: User,
    text: Type.String(),
    media: Type.Array(Type.Union([Media, LockedMedia]), { description: 'Locked posts carry only LockedMedia' }),
    visibility: Visibility,
    priceCoins: Type.Integer(),
    locked: Type.Boolean(),
    purchasedByMe: Type.Boolean(),
    likeCount: Type.Integer(),
    likedByMe: Type.Boolean(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Post' },
);
export type Post = Static<typeof Post>;
