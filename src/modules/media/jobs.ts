import { Readable } from 'node:stream';
import { defineJob, type AnyJobDefinition } from '#platform/queue/jobs.ts';
import type { JobInfo } from '#platform/queue/types.ts';
import { cleanCopyJobs } from './clean-copies.ts';
import { describeMedia, storedBytes, type KeepCleanCopy } from './describe.ts';
import { mediaKey } from './keys.ts';
import { enqueueProcessing } from './outbox.ts';
import { MediaProcessingError } from './processing/errors.ts';
import type { ImageVariant } from './processing/image.ts';
import { PROCESS_MEDIA_ATTEMPTS, PROCESS_MEDIA_JOB, PROCESSING_BACKLOG_JOB } from './intake.ts';
import type { MediaDeps } from './service.ts';
import * as store from './store.ts';
import { sweeperJob, type SweeperDeps } from './sweeper.ts';
import type { StoredVariant, VariantName } from './tables.ts';

type JobDeps = Pick<MediaDeps, 'db' | 'blobs' | 'queue' | 'ffmpeg' | 'logger'>;

/** Media processing runs two at a time per process: it is CPU-bound, and the machine may run requests too. */
const PROCESSING_CONCURRENCY = 2;

/** Ids read and enqueued per round trip by the processing backlog. */
const BACKLOG_BATCH = 200;

/**
 * Media's jobs: processing uploads (and, at start-up, enqueueing again those still unfinished), the
 * periodic sweep, and catching up on the clean copies of items stored before there were any.
 */
export function mediaJobs(deps: JobDeps & SweeperDeps): AnyJobDefinition[] {
  return [
    defineJob<{ mediaId: string }>({
      name: PROCESS_MEDIA_JOB,
      concurrency: PROCESSING_CONCURRENCY,
      handler: (payload, job) => processMedia(deps, payload.mediaId, job),
    }),
    defineJob({ name: PROCESSING_BACKLOG_JOB, handler: () => enqueueUnfinished(deps) }),
    sweeperJob(deps),
    ...cleanCopyJobs(deps),
  ];
}

/**
 * Reads an upload through and records what it is, with the files made from it: the clean copy that
 * everyone but the owner gets, and the image sizes. A file that cannot be decoded ends `failed`; any
 * other error is retried, and the last attempt's failure ends `failed` too, so nothing stays
 * `processing` for ever.
 */
async function processMedia(deps: JobDeps, mediaId: string, job: JobInfo): Promise<void> {
  const { db, blobs, logger } = deps;
  const row = await store.findMedia(db, mediaId);
  if (row === undefined || row.status !== 'processing') return;
  const stored: Partial<Record<VariantName, StoredVariant>> = {};
  const removeStored = () => Promise.all(Object.keys(stored).map((name) => blobs.delete(mediaKey(row.owner_id, row.id, name as VariantName))));
  const keepClean: KeepCleanCopy = async (copy) => {
    await blobs.put(mediaKey(row.owner_id, row.id, 'clean'), copy.body, { maxBytes: copy.size, contentType: copy.contentType });
    stored.clean = { contentType: copy.contentType, size: copy.size };
  };
  try {
    const original = storedBytes(blobs, mediaKey(row.owner_id, row.id, 'original'));
    const { fields, variants, retyped } = await describeMedia(row.kind, row.content_type, original, deps.ffmpeg, keepClean);
    for (const [name, variant] of Object.entries(variants) as [keyof typeof variants, ImageVariant][]) {
      const key = mediaKey(row.owner_id, row.id, name);
      await blobs.put(key, Readable.from([variant.data]), { maxBytes: variant.data.length, contentType: variant.contentType });
      stored[name] = { contentType: variant.contentType, size: variant.data.length };
    }
    // Deleted while processing: its files must not outlive it.
    if (!(await store.markReady(db, row.id, { ...fields, variants: stored, retyped }, new Date()))) await removeStored();
  } catch (error) {
    const final = error instanceof MediaProcessingError || job.attempt >= PROCESS_MEDIA_ATTEMPTS;
    logger[final ? 'warn' : 'error']({ err: error, mediaId, attempt: job.attempt }, 'media: processing failed');
    if (!final) throw error;
    await store.markFailed(db, row.id, error instanceof Error ? error.message : String(error), new Date());
    // A failed item serves no variant; the sweeper takes what is left once the item is deleted.
    await removeStored().catch((cause: unknown) => logger.warn({ err: cause, mediaId }, 'media: could not remove the files of a failed item'));
  }
}

/** Enqueues the processing of every item still `processing` (their job ids dedupe what is queued already). */
async function enqueueUnfinished(deps: JobDeps): Promise<void> {
  let afterId: string | undefined;
  for (;;) {
    const ids = await store.stillProcessing(deps.db, { afterId, limit: BACKLOG_BATCH });
    await Promise.all(ids.map((mediaId) => enqueueProcessing(deps.queue, mediaId)));
    afterId = ids.at(-1);
    if (ids.length < BACKLOG_BATCH) break;
  }
}
