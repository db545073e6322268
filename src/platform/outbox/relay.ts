import { setTimeout as delay } from 'node:timers/promises';
import type { Database } from '../db/database.ts';
import { claimEvents, deleteEvents, otherTopics, postponeEvents, readyTopics, type StoredEvent } from './store.ts';
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
  /** The slow poll, which covers a missed wake-up. */
  readonly pollMs: number;
  readonly logger: OutboxLogger;
};

/** Most events one claim takes (more when a handler takes bigger batches). */
const CLAIM_LIMIT = 100;
/**
 * Events written while their topic's batch runs wait this long after it ends, so that under load a
 * claim takes many at once: a claim and its settling cost the same few statements for 1 event or 100.
 */
const GATHER_MS = 10;
/** From this many failed attempts on, failures are logged as errors: someone should look. */
const ATTEMPTS_BEFORE_ERROR = 10;

/**
 * The handlers of one topic (a post's fan-out feeds timelines, live events and notifications) as
 * one: each gets every batch, in batches of its own size, even when another fails; then the first
 * failure is thrown, and the events are retried for all of them, which their idempotence allows.
 * They run side by side: while one waits on Redis or the database, another works.
 */
function oneHandler(handlers: readonly AnyOutboxHandler[]): AnyOutboxHandler {
  if (handlers.length === 1) return handlers[0]!;
  return {
    topic: handlers[0]!.topic,
    batchSize: Math.max(...handlers.map((handler) => handler.batchSize ?? 1)),
    handle: async (payloads) => {
      const failures: unknown[] = [];
      await Promise.all(
        handlers.map(async (handler) => {
          const size = handler.batchSize ?? 1;
          for (let start = 0; start < payloads.length; start += size) {
            await handler.handle(payloads.slice(start, start + size)).catch((error: unknown) => void failures.push(error));
          }
        }),
      );
      if (failures.length > 0) throw failures[0];
    },
  };
}

type Outcome = { handled: string[]; failed: Map<string, { ids: string[]; error: unknown }> };

/**
 * Hands the outbox's events to their handlers. Each claim takes one topic's events and settles on
 * its own, and a topic has one claim at a time: a slow handler (a purge on S3) holds back its own
 * topic only. Wake-ups coalesce: one round of claims runs at a time, a wake-up during it only asks
 * for one more, and events written while their topic's batch runs are claimed together
 * `GATHER_MS` after it, so a burst of writes makes a few claims, not one each. A wake-up from this
 * process's own write names its topics: a busy one costs no query, an idle one is claimed without
 * first asking which topics are ready. A failing handler call is split until the failing events are
 * alone, so one poison event does not hold back the rest of its batch. Events that keep failing are
 * retried forever (at most every 5 minutes), logged as errors from the tenth attempt on: an effect
 * is never dropped, and `outbox_oldest_event_age_seconds` shows it stuck.
 */
export class OutboxRelay {
  readonly #options: RelayOptions;
  #handlers = new Map<string, AnyOutboxHandler>();
  #claimLimit = CLAIM_LIMIT;
  /** The batch under way for each topic that has one. */
  readonly #batches = new Map<string, Promise<void>>();
  #claiming = false;
  /** What the next round of claims looks at: the topics named by wake-ups, or every idle one. */
  #wanted: Set<string> | 'all' | undefined;
  /** Busy topics that had events written or found: each owes a wake-up when its batch finishes. */
  readonly #skipped = new Set<string>();
  #closed = false;
  #poll: NodeJS.Timeout | undefined;
  /** Topics waiting out GATHER_MS after a batch, and the wake-up that ends the wait. */
  readonly #gathering = new Set<string>();
  #gather: NodeJS.Timeout | undefined;
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
    for (const [topic, shared] of Map.groupBy(handlers, (handler) => handler.topic)) this.#handlers.set(topic, oneHandler(shared));
    this.#claimLimit = Math.max(CLAIM_LIMIT, ...handlers.map((handler) => handler.batchSize ?? 1));
    this.#poll = setInterval(() => this.wake(), this.#options.pollMs).unref();
    void this.#reportOtherTopics();
    this.wake(); // events left from before a restart
  }

  /**
   * Claims and handles what is ready, now or right after the round of claims under way: of `topics`
   * when the caller knows which were written (its own commit), else of every topic.
   */
  wake(topics?: readonly string[]): void {
    if (this.#closed || !this.started) return;
    if (topics === undefined) this.#wanted = 'all';
    else if (!this.#want(topics)) return;
    if (!this.#claiming) void this.#claimWhileReady();
  }

  /** Adds the topics this process handles to the next round; false when that round has nothing new. */
  #want(topics: readonly string[]): boolean {
    const idle = new Set<string>();
    for (const topic of topics) {
      if (!this.#handlers.has(topic)) continue;
      // Its batch ends with a wake-up, and the events wait for it anyway (see GATHER_MS).
      if (this.#batches.has(topic)) this.#skipped.add(topic);
      else if (!this.#gathering.has(topic)) idle.add(topic);
    }
    if (this.#wanted === 'all') return true;
    if (idle.size === 0) return false;
    for (const topic of this.#wanted ?? []) idle.add(topic);
    this.#wanted = idle;
    return true;
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
    clearTimeout(this.#gather);
    clearTimeout(this.#retry?.timer);
    const deadline = Date.now() + timeoutMs;
    while (this.busy && Date.now() < deadline) await Promise.race([Promise.allSettled([...this.#batches.values()]), delay(10)]);
    // A claim still under way hands nothing over once closed; only running handlers are worth a word.
    if (this.#batches.size > 0) this.#options.logger.warn({ batches: this.#batches.size }, 'outbox: handlers still running at shutdown; their events will be handled again');
  }

  async #claimWhileReady(): Promise<void> {
    this.#claiming = true;
    try {
      while (this.#wanted !== undefined && !this.#closed) {
        const wanted = this.#wanted;
        this.#wanted = undefined;
        await (wanted === 'all' ? this.#claimReadyTopics() : this.#claimTopics([...wanted]));
      }
    } catch (error) {
      this.#options.logger.error({ err: error }, 'outbox: claiming events failed; trying again at the next poll');
    } finally {
      this.#claiming = false;
    }
  }

  /** Starts a batch for each idle topic with ready events. */
  async #claimReadyTopics(): Promise<void> {
    for (;;) {
      const idle = [...this.#handlers.keys()].filter((topic) => !this.#batches.has(topic) && !this.#gathering.has(topic));
      if (idle.length === 0) return;
      const { topics, more } = await readyTopics(this.#options.db, { topics: idle, limit: this.#claimLimit });
      await this.#claimTopics(topics);
      // The ready events it read were all of the topics now busy: the others' may lie beyond them.
      if (!more || this.#closed) return;
    }
  }

  /** Starts a batch for each of these topics that is idle and has ready events. */
  async #claimTopics(topics: readonly string[]): Promise<void> {
    for (const topic of topics) {
      if (this.#closed) return;
      if (this.#batches.has(topic)) this.#skipped.add(topic);
      else await this.#claimBatch(topic);
    }
  }

  /**
   * Starts a batch of `topic`'s events; resolves with how many it claimed, once they are claimed (or,
   * when none, once its claim has ended: it would otherwise hold a batch for the next claim).
   */
  #claimBatch(topic: string): Promise<number> {
    const { inClaim, lock } = this.#options;
    return new Promise<number>((resolveClaimed, rejectClaimed) => {
      let claimed = 0;
      const batch = inClaim(async (db) => {
        const events = await claimEvents(db, { limit: this.#claimLimit, topics: [topic], lock });
        // Claimed while closing: left for the next start (a claim that handles nothing changes nothing).
        claimed = this.#closed ? 0 : events.length;
        if (claimed === 0) return;
        resolveClaimed(claimed);
        const outcome = await this.#deliver(topic, events);
        await deleteEvents(db, outcome.handled);
        await this.#postpone(db, topic, outcome.failed);
      })
        .catch((error: unknown) => {
          rejectClaimed(error);
          if (claimed > 0) this.#options.logger.error({ err: error, topic }, 'outbox: settling a batch failed; its events will be handled again');
        })
        .finally(() => {
          this.#batches.delete(topic);
          resolveClaimed(0);
          this.#afterBatch(topic, claimed);
        });
      this.#batches.set(topic, batch);
    });
  }

  /**
   * Events written during the batch are gathered a moment before the next claim, unless the batch
   * was full (a backlog: claim at once). Handled events may also have been holding back later ones
   * with their keys, of any topic: a batch that handled some wakes every topic.
   */
  #afterBatch(topic: string, claimed: number): void {
    const owed = this.#skipped.delete(topic);
    if (claimed >= this.#claimLimit) this.wake();
    else if (owed) this.#wakeAfterGathering(topic);
    else if (claimed > 0) this.wake();
  }

  #wakeAfterGathering(topic: string): void {
    this.#gathering.add(topic);
    this.#gather ??= setTimeout(() => {
      this.#gather = undefined;
      this.#gathering.clear();
      this.wake();
    }, GATHER_MS).unref();
  }

  /** Hands the topic its events in batches, in id order. */
  async #deliver(topic: string, events: readonly StoredEvent[]): Promise<Outcome> {
    const outcome: Outcome = { handled: [], failed: new Map() };
    const handler = this.#handlers.get(topic)!;
    const size = handler.batchSize ?? 1;
    for (let start = 0; start < events.length; start += size) await this.#handle(handler, events.slice(start, start + size), outcome);
    return outcome;
  }

  /**
   * A failed call of several events is halved and each half tried again, until the failing events
   * are alone: they wait out a backoff, the rest are done. A claim holds one event per key, so the
   * halves may run in any order.
   */
  async #handle(handler: AnyOutboxHandler, events: readonly StoredEvent[], outcome: Outcome): Promise<void> {
    try {
      await handler.handle(events.map((event) => event.payload as never));
      outcome.handled.push(...events.map((event) => event.id));
    } catch (error) {
      if (events.length === 1) return void this.#noteFailure(outcome, events[0]!.id, error);
      const half = Math.ceil(events.length / 2);
      await this.#handle(handler, events.slice(0, half), outcome);
      await this.#handle(handler, events.slice(half), outcome);
    }
  }

  /** Failures are grouped by their error, so that an outage postpones a batch in one statement. */
  #noteFailure(outcome: Outcome, id: string, error: unknown): void {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    const failure = outcome.failed.get(text) ?? { ids: [], error };
    failure.ids.push(id);
    outcome.failed.set(text, failure);
  }

  async #postpone(db: Database, topic: string, failed: Outcome['failed']): Promise<void> {
    for (const [text, { ids, error }] of failed) {
      const { attempts, retryInMs } = await postponeEvents(db, ids, text);
      const details = { err: error, topic, events: ids.length, attempts };
      if (attempts >= ATTEMPTS_BEFORE_ERROR) this.#options.logger.error(details, `outbox: ${topic} keeps failing; retrying`);
      else this.#options.logger.warn(details, `outbox: ${topic} failed; retrying`);
      this.#wakeIn(retryInMs);
    }
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
