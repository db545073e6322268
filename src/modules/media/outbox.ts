import type { BlobStore } from '#platform/blobs/types.ts';
import { defineOutboxHandler, type AnyOutboxHandler } from '#platform/outbox/types.ts';
import type { JobQueue } from '#platform/queue/types.ts';
import { MEDIA_EVENTS, type ItemsEvent, type MediaEvent, type OwnerEvent } from './events.ts';
import { PROCESS_MEDIA_ATTEMPTS, PROCESS_MEDIA_JOB } from './intake.ts';
import { mediaItemPrefix, ownerMediaPrefix, ownerPrefixes } from './keys.ts';

export type MediaHandlerDeps = { queue: Pick<JobQueue, 'enqueue'>; blobs: BlobStore };

/**
 * Media's outbox handlers. Processing stays a job, for its attempts and the status uploaders read:
 * the handler enqueues it under the item's id, so an event handled twice enqueues it once. An
 * in-process queue loses its jobs with the process, so at start-up the items still `processing`
 * are enqueued again (`enqueueProcessing` from the backlog job). A purge has no row left to find it
 * by again after a crash, so its handler does the work itself, and the event stays until it is done.
 */
export function mediaOutboxHandlers(deps: MediaHandlerDeps): AnyOutboxHandler[] {
  return [
    defineOutboxHandler<MediaEvent>({
      topic: MEDIA_EVENTS.uploaded,
      handle: async (events) => {
        for (const { mediaId } of events) await enqueueProcessing(deps.queue, mediaId);
      },
    }),
    defineOutboxHandler<OwnerEvent>({
      topic: MEDIA_EVENTS.ownerDeleted,
      handle: async (events) => {
        for (const { ownerId, keptIds } of events) await purgeOwnerMedia(deps.blobs, ownerId, new Set(keptIds));
      },
    }),
    defineOutboxHandler<ItemsEvent>({
      topic: MEDIA_EVENTS.itemsDeleted,
      handle: async (events) => {
        for (const { items } of events) for (const item of items) await removeUnder(deps.blobs, mediaItemPrefix(item.ownerId, item.id));
      },
    }),
  ];
}

/** The item's id is the job's, so enqueueing it again while it is kept adds nothing. */
export async function enqueueProcessing(queue: Pick<JobQueue, 'enqueue'>, mediaId: string): Promise<void> {
  await queue.enqueue(PROCESS_MEDIA_JOB, { mediaId } satisfies MediaEvent, { attempts: PROCESS_MEDIA_ATTEMPTS, jobId: mediaId });
}

/**
 * Removes every byte stored for an account that is gone (its rows went with it), but those of the
 * items kept for the buyers of its sold posts (`keptIds`: their rows stay). Idempotent.
 */
async function purgeOwnerMedia(blobs: BlobStore, ownerId: string, keptIds: ReadonlySet<string>): Promise<void> {
  const kept = new Set([...keptIds].map((id) => mediaItemPrefix(ownerId, id)));
  const mediaPrefix = ownerMediaPrefix(ownerId);
  for (const prefix of ownerPrefixes(ownerId)) {
    for await (const blob of blobs.list(prefix)) {
      // media/<owner>/<id>/<file>: the item's prefix is the key up to its last slash.
      if (prefix === mediaPrefix && kept.has(blob.key.slice(0, blob.key.lastIndexOf('/') + 1))) continue;
      await blobs.delete(blob.key);
    }
  }
}

async function removeUnder(blobs: BlobStore, prefix: string): Promise<void> {
  for await (const blob of blobs.list(prefix)) await blobs.delete(blob.key);
}
