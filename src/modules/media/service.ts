import type { Database } from '#platform/db/database.ts';
import type { EmitEvent } from '#platform/outbox/types.ts';
import type { JobQueue } from '#platform/queue/types.ts';
import { AppError, errors } from '#http/errors.ts';
import type { LinkSigner } from '#http/signed-links.ts';
import { createAccessRules } from './access.ts';
import { createCatalog, itemOf, type MediaItem } from './catalog.ts';
import { CLEAN_BACKLOG_JOB } from './clean-copies.ts';
import { itemsDeletedEvent, ownerDeletedEvent } from './events.ts';
import { createIntake, PROCESSING_BACKLOG_JOB, type IntakeDeps, type UploadSource } from './intake.ts';
import { MEDIA_FILES, mediaKey } from './keys.ts';
import type { Media, Recording } from './schemas.ts';
import { createServing } from './serving.ts';
import * as store from './store.ts';
import type { MediaPurpose } from './tables.ts';

export { PROCESS_MEDIA_ATTEMPTS, PROCESS_MEDIA_JOB, type SquareImage, type UploadSource } from './intake.ts';
export type { ContentAccess, MediaGrant } from './access.ts';
export type { MediaItem } from './catalog.ts';
export type { MediaContent } from './serving.ts';

/** What intake needs, plus what describing and serving media need. */
export type MediaDeps = IntakeDeps & {
  queue: JobQueue;
  signer: LinkSigner;
  /** Prefix of the links handed out; '' for links relative to the API. */
  publicUrl: string;
  /** Content answers redirect to the blob store's own links where it has them (S3 presigned URLs). */
  redirectDownloads: boolean;
};

export type MediaService = ReturnType<typeof createMediaService>;

const mediaSold = () =>
  new AppError(409, 'media_sold', 'This item is in a post people bought: it stays while they have it. Delete the post instead; its buyers keep it');

/**
 * Photos, audio and video for posts, and the recorder's recordings. The work is split by job —
 * taking uploads in (`intake.ts`), describing media (`catalog.ts`), serving bytes (`serving.ts`) and
 * deciding who may read them (`access.ts`) — and put together here, the one surface other modules use.
 */
export function createMediaService(deps: MediaDeps) {
  const { db, blobs, queue, logger } = deps;
  const access = createAccessRules(deps.signer);
  const catalog = createCatalog({ db, access, publicUrl: deps.publicUrl });
  const intake = createIntake(deps);
  const serving = createServing({
    db,
    blobs,
    access,
    redirectDownloads: deps.redirectDownloads,
    signedUrlTtlSeconds: deps.config.signedUrlTtlSeconds,
  });

  async function removeBytes(item: MediaItem): Promise<void> {
    const files = MEDIA_FILES.filter((file) => file === 'original' || item.variants[file] !== undefined);
    await Promise.all(
      files.map((file) =>
        blobs.delete(mediaKey(item.ownerId, item.id, file)).catch((error: unknown) => {
          // The sweeper removes what is left once no row points to it.
          logger.warn({ err: error, mediaId: item.id, file }, 'media: could not remove bytes');
        }),
      ),
    );
  }

  return {
    // Taking uploads in. Items come back in their owner's view: only owners upload.
    async upload(ownerId: string, source: UploadSource): Promise<Media> {
      return catalog.ownerView(await intake.upload(ownerId, source));
    },
    async uploadFile(ownerId: string, file: { path: string; fileName: string | undefined }): Promise<Media> {
      return catalog.ownerView(await intake.uploadFile(ownerId, file));
    },
    async record(ownerId: string, source: UploadSource): Promise<Recording> {
      return catalog.recordingView(await intake.record(ownerId, source));
    },
    assertRoomFor: intake.assertRoomFor,
    /** Bytes of originals the owner stores now, read in `trx` (the uploads quota check, under the owner's lock). */
    storageUsed: (trx: Database, ownerId: string): Promise<number> => store.storageUsed(trx, ownerId),
    squareImages: intake.squareImages,

    // Describing media.
    get: catalog.get,
    getRecording: catalog.getRecording,
    listRecordings: catalog.listRecordings,
    attachable: catalog.attachable,
    mediaById: catalog.mediaById,
    inPost: catalog.inPost,

    // Serving bytes, to whoever `access.ts` lets read them.
    content: serving.content,

    /**
     * Deletes an owner's item and every file made from it. Refused (409) while a post its buyers hold
     * shows it: what they bought stays theirs.
     */
    async remove(ownerId: string, purpose: MediaPurpose, id: string): Promise<void> {
      const row = await store.deleteOwnMedia(db, ownerId, purpose, id);
      if (row === undefined) throw errors.notFound(purpose === 'recording' ? 'recording' : 'media');
      if (row === 'sold') throw mediaSold();
      await removeBytes(itemOf(row));
    },

    /**
     * In the transaction deleting an account (after posts released it): its items go, but those its
     * withdrawn posts' buyers still hold; every other byte it stored is removed once that commits.
     */
    async forgetOwner(trx: Database, emit: EmitEvent, ownerId: string): Promise<void> {
      const keptIds = await store.deleteOwnerMedia(trx, ownerId);
      await emit(ownerDeletedEvent({ ownerId, ...(keptIds.length > 0 && { keptIds }) }));
    },

    /**
     * In the transaction deleting the last buyer's account of withdrawn posts that showed these
     * items: those whose owner is gone and that no post shows any more go, their bytes once that commits.
     */
    async forgetUnheld(trx: Database, emit: EmitEvent, ids: readonly string[]): Promise<void> {
      const items = await store.deleteOrphans(trx, ids);
      if (items.length > 0) await emit(itemsDeletedEvent({ items }));
    },

    /**
     * Called at start-up. Starts making the clean copies that items stored before they existed lack
     * (see `clean-copies.ts`); until an item has one, only its owner reads its bytes. And enqueues
     * again the processing of items still `processing`: an in-process queue loses its jobs with the
     * process (see outbox.ts).
     */
    catchUp(): void {
      for (const [job, what] of [[CLEAN_BACKLOG_JOB, 'making missing clean copies'], [PROCESSING_BACKLOG_JOB, 'processing unfinished items']] as const) {
        queue.enqueue(job, {}).catch((error: unknown) => logger.error({ err: error }, `media: could not start ${what}`));
      }
    },
  };
}
