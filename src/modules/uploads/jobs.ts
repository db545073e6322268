import type { JobQueue } from '#platform/queue/types.ts';
import type { UploadsService } from './service.ts';

export const EXPIRE_UPLOADS_JOB = 'uploads.expire';

/** Removes incomplete tus uploads past their expiry (scheduled beside the media sweeper). */
export function registerUploadJobs(queue: JobQueue, uploads: Pick<UploadsService, 'removeExpiredUploads'>): void {
  queue.process(EXPIRE_UPLOADS_JOB, async () => {
    await uploads.removeExpiredUploads();
  });
}
