import Type from 'typebox';

export const Handle = Type.String({ pattern: '^[a-z0-9_]{3,30}$', description: 'Lower-case letters, digits and _' });
export const DisplayName = Type.String({ minLength: 1, maxLength: 50, pattern: '\\S', description: 'Not only spaces' });
export const Bio = Type.String({ maxLength: 160 });

export const User = Type.Object(
  {
    id: Type.String(),
    handle: Type.String(),
    name: Type.String(),
    bio: Type.String(),
    avatarUrl: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    counts: Type.Object({ followers: Type.Integer(), following: Type.Integer(), posts: Type.Integer() }),
    followedByMe: Type.Optional(Type.Boolean()),
    /** Whether the viewer hears of each of this user's new posts (`PUT /v1/users/{handle}/follow` with `notify`). */
    notifyingMe: Type.Optional(Type.Boolean()),
  },
  { title: 'User' },
);

export const Account = Type.Object(
  {
    ...User.properties,
    email: Type.Union([Type.String(), Type.Null()]),
    providers: Type.Array(Type.String()),
  },
  { title: 'Account' },
);

export type User = Type.Static<typeof User>;
export type Account = Type.Static<typeof Account>;
