import Type, { type Static } from 'typebox';

/** `event: post`: a post entered the reader's home timeline. Small: the client fetches it (GET /v1/posts/{id}) if it shows it. */
export const PostEventData = Type.Object({
  id: Type.String({ description: 'The post' }),
  authorId: Type.String({ description: 'Its author' }),
});
export type PostEventData = Static<typeof PostEventData>;

export const StreamQuery = Type.Object({
  access_token: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'The access token, for EventSource, which cannot send headers' })),
  lastEventId: Type.Optional(
    Type.String({ maxLength: 64, description: 'Where to resume, for EventSource polyfills that cannot send Last-Event-ID (the header wins)' }),
  ),
});

export const StreamHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: 64, description: 'The id of the last event received: what came after it is sent first' })),
});
