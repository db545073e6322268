import { ECDH } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import webpush from 'web-push';
import type { PushConfig, VapidKeys } from '../../config.ts';
import { AppError, errors, type FieldError } from '#http/errors.ts';
import { isPublicAddress } from '#http/public-addresses.ts';
import { newId } from '#db/ids.ts';
import type { Database } from '#platform/db/database.ts';
import type { JobQueue } from '#platform/queue/types.ts';
import type { MadeNotification } from '../notifications/service.ts';
import { DELIVERY_BY_TYPE, payloadOf, subjectOf, type PushPayload } from './payload.ts';
import type { PushSubscription, PushSubscriptionInput } from './schemas.ts';
import { createPushSender, type PushOutcome } from './sender.ts';
import { embeddedVapidKeys } from './keys.ts';
import * as store from './store.ts';

export type PushService = ReturnType<typeof createPushService>;

export const SEND_PUSH_JOB = 'push.send';
export const CLOSE_WINDOW_JOB = 'push.close-window';

/** A push to one subscription; `firstAt` (ms) is when it was first tried, `attempt` this try's number. */
export type SendJob = { subscriptionId: string; payload: PushPayload; attempt: number; firstAt: number };
export type CloseWindowJob = store.WindowKey & { endsAt: number };

/** A user's subscriptions (browsers, devices) at most; a new one past it replaces the least recently registered. */
export const MAX_SUBSCRIPTIONS_PER_USER = 10;
/** Tries of one push at most, the first included; and none once its TTL is over. */
const MAX_ATTEMPTS = 6;
/** Wait before try n+1 when the service gave no Retry-After: 1 s, 4 s, 16 s, 64 s, 256 s. */
const retryDelayMs = (attempt: number) => 1000 * 4 ** (attempt - 1);
/** A Retry-After past this is taken as this. */
const MAX_RETRY_DELAY_MS = 3600_000;
const SEND_TIMEOUT_MS = 10_000;

export const pushErrors = {
  unavailable: () => new AppError(503, 'push_unavailable', 'Web Push is not set up on this server (VAPID_SUBJECT, VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY)'),
  taken: () =>
    new AppError(409, 'push_subscription_taken', 'This endpoint is subscribed by another account with other keys: subscribe this browser again (pushManager.subscribe) for an endpoint of your own'),
};

type Vapid = { subject: string } & VapidKeys;

/** The VAPID identity push runs with, and where its keys came from; or why it is off. */
function vapidOf(config: PushConfig, dataDir: string): { vapid: Vapid; keysFrom: string } | { off: string } {
  if ('off' in config.vapid) return config.vapid;
  const { subject, keys } = config.vapid;
  if (keys === 'embedded') return { vapid: { subject, ...embeddedVapidKeys(dataDir) }, keysFrom: 'generated once, kept under DATA_DIR' };
  return { vapid: { subject, ...keys }, keysFrom: 'VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY' };
}

/**
 * Web Push: browsers' subscriptions, and each notification made pushed to its recipient's, through
 * the job queue (one job per subscription and push, retried as the push service asks), at most one
 * per (recipient, type, post) per coalescing window, the rest pushed as a count when it closes.
 */
export function createPushService(deps: { db: Database; queue: JobQueue; config: PushConfig; dataDir: string; logger: Pick<FastifyBaseLogger, 'info' | 'warn'> }) {
  const { db, queue, config, logger } = deps;
  const identity = vapidOf(config, deps.dataDir);
  const vapid = 'off' in identity ? identity : identity.vapid;
  const internalOrigins = new Set(config.internalOrigins);
  const sender = createPushSender({ internalOrigins: config.internalOrigins, timeoutMs: SEND_TIMEOUT_MS });
  if ('off' in identity) logger.info(`push: Web Push is off: ${identity.off}`);
  else logger.info({ subject: identity.vapid.subject, publicKey: identity.vapid.publicKey }, `push: Web Push is on (VAPID keys: ${identity.keysFrom})`);

  const on = (): Vapid => {
    if ('off' in vapid) throw pushErrors.unavailable();
    return vapid;
  };

  /** Every reason the subscription cannot be pushed to, at once. */
  function problemsOf(input: PushSubscriptionInput): FieldError[] {
    const problems: FieldError[] = [];
    const url = URL.canParse(input.endpoint) ? new URL(input.endpoint) : undefined;
    const host = url?.hostname.replace(/^\[|\]$/g, '') ?? '';
    if (url === undefined || url.protocol !== 'https:') problems.push({ path: '/endpoint', message: 'must be an https URL' });
    else if (url.username !== '' || url.password !== '') problems.push({ path: '/endpoint', message: 'must not carry a user name or password' });
    else if (url.hash !== '') problems.push({ path: '/endpoint', message: 'must not have a fragment' });
    else if (!internalOrigins.has(url.origin) && (isIP(host) === 0 ? /(^|\.)localhost$/i.test(host) : !isPublicAddress(host, isIP(host)))) {
      problems.push({ path: '/endpoint', message: 'must be at a public address (an internal push service is allowed through PUSH_INTERNAL_ORIGINS)' });
    }
    if (!isP256Point(Buffer.from(input.keys.p256dh, 'base64url'))) problems.push({ path: '/keys/p256dh', message: 'must be an uncompressed P-256 public key (65 bytes, base64url)' });
    if (Buffer.from(input.keys.auth, 'base64url').length !== 16) problems.push({ path: '/keys/auth', message: 'must be 16 bytes, base64url' });
    return problems;
  }

  /** One push of `payload` to each of these subscriptions, each its own job. */
  async function enqueueSends(subscriptionIds: readonly string[], payload: PushPayload, dedupe: string): Promise<void> {
    const firstAt = Date.now();
    await Promise.all(
      subscriptionIds.map((subscriptionId) =>
        queue.enqueue(SEND_PUSH_JOB, { subscriptionId, payload, attempt: 1, firstAt } satisfies SendJob, { jobId: `push-send.${subscriptionId}.${dedupe}` }),
      ),
    );
  }

  /** What a push service's answer leads to: nothing more, a removal, or another try later. */
  async function settle(job: SendJob, outcome: PushOutcome): Promise<void> {
    const what = { subscriptionId: job.subscriptionId, notificationId: job.payload.id, attempt: job.attempt };
    if (outcome.kind === 'sent') return;
    if (outcome.kind !== 'retry') {
      await store.removeSubscription(db, job.subscriptionId);
      logger.info({ ...what, outcome }, 'push: subscription removed');
      return;
    }
    const delayMs = Math.min(outcome.retryAfterSeconds === undefined ? retryDelayMs(job.attempt) : outcome.retryAfterSeconds * 1000, MAX_RETRY_DELAY_MS);
    const lapsesAt = job.firstAt + DELIVERY_BY_TYPE[job.payload.type].ttlSeconds * 1000;
    if (job.attempt >= MAX_ATTEMPTS || Date.now() + delayMs >= lapsesAt) {
      logger.warn({ ...what, outcome }, 'push: given up');
      return;
    }
    await queue.enqueue(SEND_PUSH_JOB, { ...job, attempt: job.attempt + 1 } satisfies SendJob, { delayMs });
  }

  return {
    vapidKey: () => ({ publicKey: on().publicKey }),

    /** Registers a browser's subscription for the caller (see `store.upsertSubscription` for one already known). */
    async subscribe(userId: string, input: PushSubscriptionInput): Promise<PushSubscription> {
      on();
      const problems = problemsOf(input);
      if (problems.length > 0) throw errors.invalidRequest('This is not a push subscription Plaza can push to', problems);
      // Kept unpadded, as browsers give them: the same keys compare equal however they were written.
      const [p256dh, auth] = [input.keys.p256dh, input.keys.auth].map((key) => Buffer.from(key, 'base64url').toString('base64url')) as [string, string];
      const row = await store.upsertSubscription(db, { id: newId(), userId, endpoint: input.endpoint, p256dh, auth }, new Date());
      if (row === undefined) throw pushErrors.taken();
      await store.keepNewest(db, userId, MAX_SUBSCRIPTIONS_PER_USER);
      return { endpoint: row.endpoint, createdAt: row.created_at.toISOString() };
    },

    /** Removes the caller's subscription at `endpoint`; another user's stays. */
    unsubscribe: (userId: string, endpoint: string) => store.deleteOwn(db, userId, endpoint),

    /**
     * A notifications delivery: each notification made for a user with subscriptions counts into
     * its window, and is pushed now when it opens one; the first held in a window closes it later.
     */
    async deliver(made: readonly MadeNotification[]): Promise<void> {
      if ('off' in vapid) return;
      const subscriptions = Map.groupBy(await store.subscriptionsOf(db, [...new Set(made.map((m) => m.recipientId))]), (row) => row.user_id);
      if (subscriptions.size === 0) return;
      const arrivals = new Map<string, store.Arrival & { first: PushPayload }>();
      for (const { recipientId, notification } of made) {
        if (!subscriptions.has(recipientId)) continue;
        const payload = payloadOf(notification);
        const key = JSON.stringify([recipientId, payload.type, subjectOf(payload)]);
        const arrival = arrivals.get(key);
        if (arrival === undefined) arrivals.set(key, { userId: recipientId, type: payload.type, subjectId: subjectOf(payload), count: 1, latest: payload, first: payload });
        else Object.assign(arrival, { count: arrival.count + 1, latest: payload });
      }
      const states = await store.countIntoWindows(db, [...arrivals.values()].map(({ first: _, ...arrival }) => arrival), config.coalesceSeconds);
      await Promise.all(
        states.map(async (state) => {
          const arrival = arrivals.get(JSON.stringify([state.userId, state.type, state.subjectId]));
          if (arrival === undefined) return;
          const ids = (subscriptions.get(state.userId) ?? []).map((row) => row.id);
          if (state.opened) await enqueueSends(ids, arrival.first, arrival.first.id);
          // The first held in this window: its close is due (held as many as just came, or more in a window just opened).
          if (state.held > 0 && (state.opened || state.held === arrival.count)) {
            const job: CloseWindowJob = { userId: state.userId, type: state.type, subjectId: state.subjectId, endsAt: state.endsAt.getTime() };
            await queue.enqueue(CLOSE_WINDOW_JOB, job, { delayMs: Math.max(0, job.endsAt - Date.now()), jobId: closeJobId(job) });
          }
        }),
      );
    },

    /** Closes a window: what it held is pushed as one, with the count, to the user's subscriptions now. */
    async closeWindow(job: CloseWindowJob): Promise<void> {
      const closed = await store.closeWindow(db, job, new Date(job.endsAt), config.coalesceSeconds);
      if (closed === undefined || 'off' in vapid) return;
      const ids = (await store.subscriptionsOf(db, [job.userId])).map((row) => row.id);
      await enqueueSends(ids, { ...closed.latest, count: closed.held }, `${closed.latest.id}.n${closed.held}`);
    },

    /** Windows whose close job was lost (the in-process queue does not outlive its process) are closed now. */
    async closeOverdueWindows(): Promise<void> {
      const graceSeconds = 30;
      for (const window of await store.overdueWindows(db, graceSeconds, 500)) {
        const job = { ...window, endsAt: window.endsAt.getTime() };
        // An id of its own: the lost job's may be kept (failed) and would dedupe this one away.
        await queue.enqueue(CLOSE_WINDOW_JOB, job, { jobId: `${closeJobId(job)}.late` });
      }
      await store.forgetClosedWindows(db, Math.max(config.coalesceSeconds, 3600));
    },

    /** One try of one push: encrypted for the subscription's keys, signed with the VAPID key. */
    async send(job: SendJob): Promise<void> {
      const subscription = await store.findSubscription(db, job.subscriptionId);
      if (subscription === undefined || 'off' in vapid) return;
      const delivery = DELIVERY_BY_TYPE[job.payload.type];
      const ttl = Math.max(0, delivery.ttlSeconds - Math.floor((Date.now() - job.firstAt) / 1000));
      const request = webpush.generateRequestDetails(
        { endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } },
        JSON.stringify(job.payload),
        { vapidDetails: vapid, TTL: ttl, urgency: delivery.urgency, contentEncoding: 'aes128gcm' },
      );
      await settle(job, await sender.send({ endpoint: request.endpoint, headers: request.headers as Record<string, string | number>, body: request.body }));
    },
  };
}

/** One close job per window: a job id names the window's key and end (no ':', which BullMQ reserves). */
const closeJobId = (job: CloseWindowJob) => `push-close.${job.userId}.${job.type}.${job.subjectId || '-'}.${job.endsAt}`;

function isP256Point(key: Buffer): boolean {
  if (key.length !== 65 || key[0] !== 0x04) return false;
  try {
    ECDH.convertKey(key, 'prime256v1');
    return true;
  } catch {
    return false;
  }
}
