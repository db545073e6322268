import type { FastifyBaseLogger } from 'fastify';
import type { BlobStore } from '#platform/blobs/types.ts';
import type { Database } from '#platform/db/database.ts';
import { defineJob, type AnyJobDefinition } from '#platform/queue/jobs.ts';
import type { JobQueue } from '#platform/queue/types.ts';
import { makeCleanCopy, storedBytes } from './describe.ts';
import { mediaKey } from './keys.ts';
import { MediaProcessingError } from './processing/errors.ts';
import type { FfmpegTools } from './processing/ffmpeg.ts';
import * as store from './store.ts';
import type { StoredVariant } from './tables.ts';

/**
 * Items stored before clean copies existed have none: everyone but their owner is refused their bytes
 * (their `url` is absent) until the clean copy is made. At start-up the backlog job walks the ready
 * items without one and enqueues a job for each, which makes it as processing would have.
 */
export const CLEAN_BACKLOG_JOB = 'media.clean-backlog';
export const CLEAN_COPY_JOB = 'media.clean-copy';

/** Ids read and enqueued per round trip. */
const BACKLOG_BATCH = 200;

export type CleanCopyDeps = {
  db: Database;
  blobs: BlobStore;
  queue: JobQueue;
  ffmpeg: FfmpegTools | undefined;
  logger: FastifyBaseLogger;
};

export function cleanCopyJobs(deps: CleanCopyDeps): AnyJobDefinition[] {
  return [
    defineJob({ name: CLEAN_BACKLOG_JOB, handler: () => enqueueBacklog(deps) }),
    // One at a time: it is catching up in the background, behind the processing of new uploads.
    defineJob<{ mediaId: string }>({ name: CLEAN_COPY_JOB, handler: (payload) => makeMissingCleanCopy(deps, payload.mediaId) }),
  ];
}

async function enqueueBacklog(deps: CleanCopyDeps): Promise<void> {
  let afterId: string | undefined;
  let enqueued = 0;
  for (;;) {
    const ids = await store.readyWithout(deps.db, 'clean', { afterId, limit: BACKLOG_BATCH });
    // The job id dedupes: several instances starting at once enqueue each item once.
    await Promise.all(ids.map((mediaId) => deps.queue.enqueue(CLEAN_COPY_JOB, { mediaId }, { jobId: `clean-${mediaId}` })));
    enqueued += ids.length;
    afterId = ids.at(-1);
    if (ids.length < BACKLOG_BATCH) break;
  }
  if (enqueued > 0) deps.logger.info({ items: enqueued }, 'media: making the clean copies that older items lack');
}

/**
 * Makes one item's clean copy, if it still lacks one. Audio and video without ffmpeg, or a file that
 * cannot be read (which processing once could), keep none: only their owner reads them.
 */
async function makeMissingCleanCopy(deps: CleanCopyDeps, mediaId: string): Promise<void> {
  const { db, blobs, logger } = deps;
  const row = await store.findMedia(db, mediaId);
  if (row === undefined || row.status !== 'ready' || row.purpose !== 'post' || row.variants.clean !== undefined) return;
  const key = mediaKey(row.owner_id, row.id, 'clean');
  let kept: StoredVariant | undefined;
  try {
    const original = storedBytes(blobs, mediaKey(row.owner_id, row.id, 'original'));
    await makeCleanCopy(row.kind, row.content_type, original, deps.ffmpeg, async (copy) => {
      await blobs.put(key, copy.body, { maxBytes: copy.size, contentType: copy.contentType });
      kept = { contentType: copy.contentType, size: copy.size };
    });
  } catch (error) {
    if (!(error instanceof MediaProcessingError)) throw error;
    logger.warn({ err: error, mediaId }, 'media: no clean copy could be made; only its owner reads it');
    return;
  }
  // Deleted meanwhile: the copy must not outlive it.
  if (kept !== undefined && !(await store.addVariant(db, row.id, 'clean', kept, new Date()))) await blobs.delete(key);
}
