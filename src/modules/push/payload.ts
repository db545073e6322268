import type { Notification } from '../notifications/schemas.ts';
import type { NotificationType } from '../notifications/tables.ts';

/**
 * What a push carries, decrypted by the browser's service worker: the notification's ids and what a
 * notification shows (actor, a post's text cut short), and how many notifications it stands for.
 */
export type PushPayload = {
  /** The notification's id (the latest one's, for a coalesced push). */
  id: string;
  type: NotificationType;
  actor: { id: string; handle: string; name: string };
  post?: { id: string; text: string };
  createdAt: string;
  /** 1, or how many came in the coalescing window this push closes (the actor shown is the latest's). */
  count: number;
};

/**
 * How urgently and how long push services keep each type for a device that is away (RFC 8030 §5.2,
 * §5.3): a sale matters now, a like can wait for the device to wake and lapses sooner.
 */
export const DELIVERY_BY_TYPE: Record<NotificationType, { urgency: 'high' | 'normal' | 'low'; ttlSeconds: number }> = {
  purchase: { urgency: 'high', ttlSeconds: 86_400 },
  follow: { urgency: 'normal', ttlSeconds: 86_400 },
  new_post: { urgency: 'normal', ttlSeconds: 43_200 },
  like: { urgency: 'low', ttlSeconds: 21_600 },
};

/**
 * Push services take 4096 bytes of encrypted body; aes128gcm adds 86 bytes of header, a padding
 * delimiter and a 16-byte tag to the plaintext (RFC 8188, 8291). Well under it, for safety.
 */
export const MAX_PAYLOAD_BYTES = 3072;
/** A post's text is cut to this many characters (the app fetches the post by its id for more). */
const TEXT_CHARACTERS = 280;
const ELLIPSIS = '…';

/** Cuts to `characters` code points (never inside a surrogate pair), marking the cut. */
function cut(text: string, characters: number): string {
  const points = Array.from(text);
  return points.length <= characters ? text : `${points.slice(0, characters).join('')}${ELLIPSIS}`;
}

/** A notification as pushed, within MAX_PAYLOAD_BYTES as JSON (a text of escapes is cut shorter). */
export function payloadOf(notification: Notification, count = 1): PushPayload {
  const { id, type, actor, post, createdAt } = notification;
  const build = (characters: number): PushPayload => ({
    id,
    type,
    actor: { id: actor.id, handle: actor.handle, name: cut(actor.name, 100) },
    ...(post !== undefined && { post: { id: post.id, text: cut(post.text, characters) } }),
    createdAt,
    count,
  });
  let characters = TEXT_CHARACTERS;
  let payload = build(characters);
  while (Buffer.byteLength(JSON.stringify(payload)) > MAX_PAYLOAD_BYTES && characters > 0) {
    characters = Math.floor(characters / 2);
    payload = build(characters);
  }
  return payload;
}

/** What pushes of one kind coalesce on: the post, or '' for follows (which have none). */
export const subjectOf = (payload: PushPayload) => payload.post?.id ?? '';
