import { setTimeout as delay } from 'node:timers/promises';
import type { Database } from '../db/database.ts';
import { claimEvents, deleteEvents, otherTopics, postponeEvents, type StoredEvent } from './store.ts';
import type { AnyOutboxHandler } from './types.ts';

export type OutboxLogger = {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
};

export type RelayOptions = {
  /** Where handlers' rows are read (PGlite: the app's database). */
  readonly db: Database;
  /**
   * Runs one batch: claim, handle, delete. On PostgreSQL a transaction on a connection of the
   * relay's own, holding the claimed rows' locks; on PGlite the work itself, outside any transaction.
   */
  readonly inClaim: <T>(work: (db: Database) => Promise<T>) => Promise<T>;
  /** Whether claims lock their rows (PostgreSQL), so relays of other instances skip them. */
  readonly lock: boolean;
  /** Batches handled at once: each holds one `inClaim`. */
  readonly maxBatches: number;
  /** The slow poll, which covers a missed wake-up. */
  readonly pollMs: number;
  readonly logger: OutboxLogger;
};

/** Most events one claim takes (more when a handler takes bigger batches). */
const CLAIM_LIMIT = 100;
/** From this many failed attempts on, failures are logged as errors: someone should look. */
const ATTEMPTS_BEFORE_ERROR = 10;

type Outcome = { handled: string[]; failed: { topic: string; ids: string[]; error: unknown }[] };

/**
 * Hands the outbox's events to their handlers. Wake-ups coalesce: one claim runs at a time, and a
 * wake-up during it only asks for one more, so a burst of writes makes a few claims, not one each.
 * Events that keep failing are retried forever (at most every 5 minutes), logged as errors from the
 * tenth attempt on: an effect is never dropped, and `outbox_oldest_event_age_seconds` shows it stuck.
 */
export class OutboxRelay {
  readonly #options: RelayOptions;
  #handlers = new Map<string, AnyOutboxHandler>();
  #claimLimit = CLAIM_LIMIT;
  readonly #batches = new Set<Promise<void>>();
  #claiming = false;
  #claimAgain = false;
  #closed = false;
  #poll: NodeJS.Timeout | undefined;
  #retry: { timer: NodeJS.Timeout; at: number } | undefined;
  readonly #reportedTopics = new Set<string>();

  constructor(options: RelayOptions) {
    this.#options = options;
  }

  get started(): boolean {
    return this.#poll !== undefined;
  }

  /** Whether a claim or a batch is under way in this process. */
  get busy(): boolean {
    return this.#claiming || this.#batches.size > 0;
  }

  start(handlers: readonly AnyOutboxHandler[]): void {
    if (this.started) throw new Error('the outbox relay is already started');
    for (const handler of handlers) {
      if (this.#handlers.has(handler.topic)) throw new Error(`two outbox handlers for ${handler.topic}`);
      this.#handlers.set(handler.topic, handler);
    }
    this.#claimLimit = Math.max(CLAIM_LIMIT, ...handlers.map((handler) => handler.batchSize ?? 1));
    this.#poll = setInterval(() => this.wake(), this.#options.pollMs).unref();
    void this.#reportOtherTopics();
    this.wake(); // events left from before a restart
  }

  /** Claims and handles what is ready, now or right after the claim under way. */
  wake(): void {
    if (this.#closed || !this.started || this.#handlers.size === 0) return;
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    void this.#claimWhileReady();
  }

  /** Logs, once per topic, an event this process writes but has no handler for. */
  noteTopic(topic: string): void {
    if (!this.started || this.#handlers.has(topic)) return;
    this.#reportTopic(topic);
  }

  /** Stops claiming and waits, at most `timeoutMs`, for the batches under way. */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    clearInterval(this.#poll);
    clearTimeout(this.#retry?.timer);
    const deadline = Date.now() + timeoutMs;
    while (this.busy && Date.now() < deadline) await Promise.race([Promise.allSettled([...this.#batches]), delay(10)]);
    if (this.busy) this.#options.logger.warn({ batches: this.#batches.size }, 'outbox: handlers still running at shutdown; their events will be handled again');
  }

  async #claimWhileReady(): Promise<void> {
    this.#claiming = true;
    try {
      do {
        this.#claimAgain = false;
        while (!this.#closed && this.#batches.size < this.#options.maxBatches) {
          const claimed = await this.#claimBatch();
          if (claimed < this.#claimLimit) break;
        }
      } while (this.#claimAgain && !this.#closed && this.#batches.size < this.#options.maxBatches);
    } catch (error) {
      this.#options.logger.error({ err: error }, 'outbox: claiming events failed; trying again at the next poll');
    } finally {
      this.#claiming = false;
    }
  }

  /** Starts a batch; resolves with how many events it claimed, once they are claimed. */
  #claimBatch(): Promise<number> {
    const { inClaim, lock } = this.#options;
    return new Promise<number>((resolveClaimed, rejectClaimed) => {
      let claimed = 0;
      const batch = inClaim(async (db) => {
        const events = await claimEvents(db, { limit: this.#claimLimit, topics: [...this.#handlers.keys()], lock });
        claimed = events.length;
        resolveClaimed(claimed);
        if (claimed === 0) return;
        const outcome = await this.#deliver(events);
        await deleteEvents(db, outcome.handled);
        for (const failure of outcome.failed) await this.#postpone(db, failure);
      })
        .catch((error: unknown) => {
          rejectClaimed(error);
          if (claimed > 0) this.#options.logger.error({ err: error }, 'outbox: settling a batch failed; its events will be handled again');
        })
        .finally(() => {
          this.#batches.delete(batch);
          // Handled events may have been holding back later ones with their keys.
          if (claimed > 0) this.wake();
        });
      this.#batches.add(batch);
    });
  }

  /** Hands each topic its events in batches, in id order; topics run side by side. */
  async #deliver(events: readonly StoredEvent[]): Promise<Outcome> {
    const outcome: Outcome = { handled: [], failed: [] };
    const byTopic = Map.groupBy(events, (event) => event.topic);
    await Promise.all(
      [...byTopic].map(async ([topic, ofTopic]) => {
        const handler = this.#handlers.get(topic)!;
        const size = handler.batchSize ?? 1;
        for (let start = 0; start < ofTopic.length; start += size) {
          const batch = ofTopic.slice(start, start + size);
          const ids = batch.map((event) => event.id);
          try {
            await handler.handle(batch.map((event) => event.payload as never));
            outcome.handled.push(...ids);
          } catch (error) {
            outcome.failed.push({ topic, ids, error });
          }
        }
      }),
    );
    return outcome;
  }

  async #postpone(db: Database, { topic, ids, error }: Outcome['failed'][number]): Promise<void> {
    const { attempts, retryInMs } = await postponeEvents(db, ids, error instanceof Error ? (error.stack ?? error.message) : String(error));
    const details = { err: error, topic, events: ids.length, attempts };
    if (attempts >= ATTEMPTS_BEFORE_ERROR) this.#options.logger.error(details, `outbox: ${topic} keeps failing; retrying`);
    else this.#options.logger.warn(details, `outbox: ${topic} failed; retrying`);
    this.#wakeIn(retryInMs);
  }

  /** A wake-up when a retry falls due, sooner than the poll would come. */
  #wakeIn(ms: number): void {
    const at = Date.now() + ms;
    if (this.#retry !== undefined && this.#retry.at <= at) return;
    clearTimeout(this.#retry?.timer);
    const timer = setTimeout(() => {
      this.#retry = undefined;
      this.wake();
    }, ms).unref();
    this.#retry = { timer, at };
  }

  async #reportOtherTopics(): Promise<void> {
    try {
      for (const topic of await otherTopics(this.#options.db, [...this.#handlers.keys()])) this.#reportTopic(topic);
    } catch (error) {
      this.#options.logger.error({ err: error }, 'outbox: listing its topics failed');
    }
  }

  #reportTopic(topic: string): void {
    if (this.#reportedTopics.has(topic)) return;
    this.#reportedTopics.add(topic);
    this.#options.logger.warn({ topic }, `outbox: no handler for ${topic} in this process; its events wait for a process that has one`);
  }
}
