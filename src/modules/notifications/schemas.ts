import Type, { type Static } from 'typebox';
import { PageQuery } from '#http/pagination.ts';
import { User } from '../accounts/schemas.ts';

/** A notification id as Plaza makes them (a ULID): `upTo` takes nothing else. */
const ULID = '^[0-9A-HJKMNP-TV-Z]{26}$';

export const NotificationType = Type.Union([Type.Literal('follow'), Type.Literal('like'), Type.Literal('purchase'), Type.Literal('new_post')]);

export const Notification = Type.Object(
  {
    id: Type.String(),
    type: NotificationType,
    actor: User,
    post: Type.Optional(Type.Object({ id: Type.String(), text: Type.String() }, { description: 'The post liked, bought or published; not for a follow' })),
    createdAt: Type.String({ format: 'date-time' }),
    read: Type.Boolean(),
  },
  { title: 'Notification' },
);
export type Notification = Static<typeof Notification>;

export const NotificationsQuery = Type.Object(
  { ...PageQuery.properties, unread: Type.Optional(Type.Boolean({ description: 'Only unread notifications' })) },
  { additionalProperties: false },
);
export type NotificationsQuery = Static<typeof NotificationsQuery>;

/** The body may be left out (Fastify validates a missing body as null): all are marked read then. */
export const MarkRead = Type.Union(
  [
    Type.Object(
      { upTo: Type.Optional(Type.String({ pattern: ULID, description: 'Marks read this notification and every older one of yours; all of them when absent' })) },
      { additionalProperties: false },
    ),
    Type.Null(),
  ],
  { title: 'MarkRead' },
);

export const UnreadCount = Type.Object({ count: Type.Integer({ minimum: 0 }) });
