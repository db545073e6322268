import { AppError } from '#http/errors.ts';
import { TaskSlots } from '#platform/slots.ts';

/** How long a caller turned away for a full queue is told to wait: a turn comes within a second or two. */
const BUSY_RETRY_AFTER_SECONDS = 2;

/**
 * The slots for square images cut inside requests (profile images): two at once, like media
 * processing, as each takes a core for up to a second; a few dozen more may wait (each is a request
 * whose upload is already stored), and past that the answer is 503 with Retry-After.
 */
export function createSquareImageSlots(): TaskSlots {
  return new TaskSlots({
    concurrency: 2,
    queueLimit: 32,
    refusal: () =>
      new AppError(503, 'unavailable', 'The server is busy processing images; try again shortly', {
        headers: { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) },
      }),
  });
}
