import Type, { type Static } from 'typebox';

/** An endpoint is at most this long: the push services' own are a few hundred characters. */
export const MAX_ENDPOINT_LENGTH = 1024;

const Endpoint = Type.String({ minLength: 9, maxLength: MAX_ENDPOINT_LENGTH, pattern: '^https://', description: "The push service's https URL for this browser" });

/**
 * A browser's `PushSubscription.toJSON()`: its `expirationTime` (null in every browser today) is
 * taken and not kept. The keys are base64url, padded or not.
 */
export const PushSubscriptionInput = Type.Object(
  {
    endpoint: Endpoint,
    expirationTime: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    keys: Type.Object(
      {
        p256dh: Type.String({ pattern: '^[A-Za-z0-9_-]{87}=?$', description: "The browser's P-256 public key, uncompressed (65 bytes)" }),
        auth: Type.String({ pattern: '^[A-Za-z0-9_-]{22}(==)?$', description: 'The 16-byte authentication secret' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, title: 'PushSubscriptionInput' },
);
export type PushSubscriptionInput = Static<typeof PushSubscriptionInput>;

export const PushSubscription = Type.Object(
  { endpoint: Type.String(), createdAt: Type.String({ format: 'date-time' }) },
  { title: 'PushSubscription', description: 'A subscription of yours: pushes go to its endpoint' },
);
export type PushSubscription = Static<typeof PushSubscription>;

export const PushUnsubscribe = Type.Object({ endpoint: Type.String({ minLength: 1, maxLength: MAX_ENDPOINT_LENGTH }) }, { additionalProperties: false, title: 'PushUnsubscribe' });

export const VapidKey = Type.Object(
  { publicKey: Type.String({ description: "The server's VAPID public key (base64url): the applicationServerKey to subscribe with" }) },
  { title: 'VapidKey' },
);
