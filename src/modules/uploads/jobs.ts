import { defineJob, type AnyJobDefinition } from '#platform/queue/jobs.ts';
import type { UploadsService } from './service.ts';

export const EXPIRE_UPLOADS_JOB = 'uploads.expire';

/** Removes incomplete tus uploads past their expiry, every `everyMs` (the media sweeper's period). */
export function uploadJobs(uploads: Pick<UploadsService, 'removeExpiredUploads'>, everyMs: number): AnyJobDefinition[] {
  return [
    defineJob({
      name: EXPIRE_UPLOADS_JOB,
      everyMs,
      handler: async () => {
        await uploads.removeExpiredUploads();
      },
    }),
  ];
}
