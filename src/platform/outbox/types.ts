import type { RawBuilder } from 'kysely';
import type { Database } from '../db/database.ts';

/**
 * One effect of a write (fan out a post, backfill a follow, purge an account's bytes), recorded as a
 * row in the same transaction as the write itself, so it happens if and only if the write commits.
 */
export type OutboxEvent<P = unknown> = {
  /** What happens, e.g. `timelines.fan-out`; modules may each have a handler for a topic (see the relay). */
  readonly topic: string;
  /** Travels as JSON: the handler sees what `JSON.stringify` kept. */
  readonly payload: P;
  /**
   * Events with the same key are handled one at a time, in the order they were written (a follow
   * then an unfollow of the same pair), whatever their topics. Events without a key may be handled in
   * any order. "Written" is id order, which is commit order only when the writes are ordered by their
   * cause (the same row locked, or one after the other): never emit one key from unrelated concurrent
   * transactions.
   */
  readonly key?: string;
};

/**
 * Records an event in the caller's transaction. The transaction's events are written together, in
 * one statement, when its work returns and before it commits.
 */
export type EmitEvent = (event: OutboxEvent) => Promise<void>;

/**
 * Handles a topic's events, delivered at least once: a handler may see an event again after a crash
 * or a failed attempt, so it must be idempotent. It receives up to `batchSize` payloads at once (in
 * the order written); if it throws, the batch is halved and retried at once until the failing
 * payloads are alone, and those are retried later (so a payload may be seen twice in a row).
 */
export type OutboxHandlerDefinition<P> = {
  readonly topic: string;
  readonly handle: (payloads: readonly P[]) => Promise<void>;
  /** Most events handed over at once (default 1). Fan-out takes many, to share round trips. */
  readonly batchSize?: number;
};

/** A handler of any payload, as a module's list holds them (see `defineJob` for why `never`). */
export type AnyOutboxHandler = OutboxHandlerDefinition<never>;

export function defineOutboxHandler<P>(definition: OutboxHandlerDefinition<P>): AnyOutboxHandler {
  return definition as unknown as AnyOutboxHandler;
}

export type OutboxStats = {
  /** Events written and not yet handled. */
  readonly backlog: number;
  /** Age of the oldest of them, in seconds (0 when there are none). */
  readonly oldestAgeSeconds: number;
};

/**
 * The transactional outbox (table `outbox_events`) and its relay. On PostgreSQL the relay wakes on
 * LISTEN/NOTIFY and claims rows with `FOR UPDATE SKIP LOCKED`, so several instances share the work
 * without doubling it; on PGlite an in-process signal wakes it. A slow poll covers a missed wake-up.
 */
export interface Outbox {
  /**
   * Runs `work` in a transaction on `db`; the events it emits are written in that transaction and
   * delivered once it commits (nothing if it throws). After the commit it wakes this process's relay
   * and, on PostgreSQL, tells the other instances' (a NOTIFY, sent apart and coalesced).
   */
  transaction<T>(db: Database, work: (trx: Database, emit: EmitEvent) => Promise<T>): Promise<T>;
  /**
   * For a write that is one statement (one statement is one transaction, and the cheapest), or a
   * transaction that `write` runs itself: hands `write` the statement that inserts `events`, for it
   * to compose into one of its own as a common table expression, so that the events commit if and
   * only if the write does. Once `write` resolves it
   * wakes the relays as `transaction` does after its commit; if it rejects, nothing was written.
   */
  writeWith<T>(events: readonly OutboxEvent[], write: (insertEvents: RawBuilder<unknown>) => Promise<T>): Promise<T>;
  /** Starts delivering events to these handlers (call once, after every module registered its own). */
  start(handlers: readonly AnyOutboxHandler[]): void;
  stats(): Promise<OutboxStats>;
  /** Resolves when no event is waiting or being handled (tests and the bench wait on it). */
  drained(timeoutMs: number): Promise<void>;
  /** Stops claiming, waits for handlers running now, releases the listening connection. */
  close(): Promise<void>;
}
