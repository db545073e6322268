import type { OutboxEvent } from '#platform/outbox/types.ts';

/**
 * Media's outbox topics. Intake and account deletion write them in the transaction that makes them
 * necessary; `outbox.ts` handles them. Neither needs a key: each item and each owner has one event.
 */
export const MEDIA_EVENTS = {
  /** An item stored for posts was written: its processing follows. */
  uploaded: 'media.uploaded',
  /** An account was deleted: every byte it stored goes. */
  ownerDeleted: 'media.owner-deleted',
} as const;

export type MediaEvent = { mediaId: string };
export type OwnerEvent = { ownerId: string };

export const uploadedEvent = (payload: MediaEvent): OutboxEvent<MediaEvent> => ({ topic: MEDIA_EVENTS.uploaded, payload });

export const ownerDeletedEvent = (payload: OwnerEvent): OutboxEvent<OwnerEvent> => ({ topic: MEDIA_EVENTS.ownerDeleted, payload });
