import type { OutboxEvent } from '#platform/outbox/types.ts';

/**
 * Media's outbox topics. Intake, account deletion and the end of a withdrawn post write them in the
 * transaction that makes them necessary; `outbox.ts` handles them. Neither needs a key: each item and
 * each owner has one event.
 */
export const MEDIA_EVENTS = {
  /** An item stored for posts was written: its processing follows. */
  uploaded: 'media.uploaded',
  /** An account was deleted: every byte it stored goes, but those of the items its sold posts keep. */
  ownerDeleted: 'media.owner-deleted',
  /** Items kept for buyers after their owner's account went are no longer held: their bytes go. */
  itemsDeleted: 'media.items-deleted',
} as const;

export type MediaEvent = { mediaId: string };
/** `keptIds`: the owner's items still held by their sold posts' buyers (absent in events written before there were any). */
export type OwnerEvent = { ownerId: string; keptIds?: string[] };
export type ItemsEvent = { items: { ownerId: string; id: string }[] };

export const uploadedEvent = (payload: MediaEvent): OutboxEvent<MediaEvent> => ({ topic: MEDIA_EVENTS.uploaded, payload });

export const ownerDeletedEvent = (payload: OwnerEvent): OutboxEvent<OwnerEvent> => ({ topic: MEDIA_EVENTS.ownerDeleted, payload });

export const itemsDeletedEvent = (payload: ItemsEvent): OutboxEvent<ItemsEvent> => ({ topic: MEDIA_EVENTS.itemsDeleted, payload });
