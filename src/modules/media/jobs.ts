import { Readable } from 'node:stream';
import type { JobInfo, JobQueue } from '#platform/queue/types.ts';
import { describeMedia, storedBytes } from './describe.ts';
import { mediaKey, ownerPrefixes } from './keys.ts';
import { MediaProcessingError } from './processing/errors.ts';
import { PROCESS_MEDIA_ATTEMPTS, PROCESS_MEDIA_JOB, PURGE_OWNER_MEDIA_JOB, type MediaDeps } from './service.ts';
import * as store from './store.ts';
import type { StoredVariant, VariantName } from './tables.ts';

type JobDeps = Pick<MediaDeps, 'db' | 'blobs' | 'ffmpeg' | 'logger'>;

/** Media processing runs two at a time per process: it is CPU-bound, and the machine may run requests too. */
const PROCESSING_CONCURRENCY = 2;

export function registerMediaJobs(queue: JobQueue, deps: JobDeps): void {
  queue.process<{ mediaId: string }>(PROCESS_MEDIA_JOB, (payload, job) => processMedia(deps, payload.mediaId, job), {
    concurrency: PROCESSING_CONCURRENCY,
  });
  queue.process<{ ownerId: string }>(PURGE_OWNER_MEDIA_JOB, (payload) => purgeOwnerMedia(deps, payload.ownerId));
}

/**
 * Reads an upload through and records what it is. A file that cannot be decoded ends `failed`; any
 * other error is retried, and the last attempt's failure ends `failed` too, so nothing stays
 * `processing` for ever.
 */
async function processMedia(deps: JobDeps, mediaId: string, job: JobInfo): Promise<void> {
  const { db, blobs, logger } = deps;
  const row = await store.findMedia(db, mediaId);
  if (row === undefined || row.status !== 'processing') return;
  try {
    const original = storedBytes(blobs, mediaKey(row.owner_id, row.id, 'original'));
    const { fields, variants, retyped } = await describeMedia(row.kind, row.content_type, original, deps.ffmpeg);
    const stored: Partial<Record<VariantName, StoredVariant>> = {};
    for (const [name, variant] of Object.entries(variants) as [VariantName, (typeof variants)[VariantName] & {}][]) {
      const key = mediaKey(row.owner_id, row.id, name);
      await blobs.put(key, Readable.from([variant.data]), { maxBytes: variant.data.length, contentType: variant.contentType });
      stored[name] = { contentType: variant.contentType, size: variant.data.length };
    }
    if (!(await store.markReady(db, row.id, { ...fields, variants: stored, retyped }, new Date()))) {
      // Deleted while processing: its variants must not outlive it.
      await Promise.all(Object.keys(stored).map((name) => blobs.delete(mediaKey(row.owner_id, row.id, name as VariantName))));
    }
  } catch (error) {
    const final = error instanceof MediaProcessingError || job.attempt >= PROCESS_MEDIA_ATTEMPTS;
    logger[final ? 'warn' : 'error']({ err: error, mediaId, attempt: job.attempt }, 'media: processing failed');
    if (!final) throw error;
    await store.markFailed(db, row.id, error instanceof Error ? error.message : String(error), new Date());
  }
}

/** Removes every byte stored for an account that is gone (its rows went with it). */
async function purgeOwnerMedia(deps: JobDeps, ownerId: string): Promise<void> {
  for (const prefix of ownerPrefixes(ownerId)) {
    for await (const blob of deps.blobs.list(prefix)) await deps.blobs.delete(blob.key);
  }
}
