import { setTimeout as delay } from 'node:timers/promises';
import type { RawBuilder } from 'kysely';
import type { DatabaseHandle, Database } from '../db/database.ts';
import type { WakeChannel } from './postgres-wake.ts';
import { OutboxRelay, type OutboxLogger } from './relay.ts';
import { insertEvents, insertEventsQuery, outboxStats } from './store.ts';
import type { AnyOutboxHandler, EmitEvent, Outbox, OutboxEvent, OutboxStats } from './types.ts';

export type OutboxOptions = {
  readonly database: DatabaseHandle;
  /** PostgreSQL's address, for the relay's own connections; unused on PGlite. */
  readonly databaseUrl: string | undefined;
  /** How long `close` waits for running handlers. */
  readonly closeTimeoutMs: number;
  /** The slow poll, which covers a missed wake-up (default 5 s). */
  readonly pollMs?: number;
  readonly logger: OutboxLogger;
};

const POLL_MS = 5_000;
/**
 * Batches handled at once on PostgreSQL. Each holds its claim transaction open on a connection of
 * the relay's own pool while its handlers run, so a crashed process's claims are released the moment
 * its connections drop (a lease column would keep them until it expired). A pool of its own, rather
 * than the app's: handlers query through the app's pool, and a claim holding the last of its
 * connections would wait for them forever. This costs each instance these connections plus one
 * that LISTENs. A server's `idle_in_transaction_session_timeout` must exceed the slowest handler.
 */
const POSTGRES_BATCHES = 2;
const DRAIN_CHECK_MS = 10;

/**
 * The outbox on the app's database. On PGlite (one connection, one process) the relay claims by
 * reading, handles, then deletes, never holding a transaction while a handler runs: the handler's
 * own queries would wait behind it forever. An in-process signal wakes it.
 */
export async function openOutbox(options: OutboxOptions): Promise<Outbox> {
  const { database, logger } = options;
  const pollMs = options.pollMs ?? POLL_MS;
  if (database.profile === 'pglite') {
    // One batch per topic at once: no batch holds the connection, so a slow topic delays no other.
    const relay = new OutboxRelay({ db: database.db, inClaim: (work) => work(database.db), lock: false, maxBatches: Infinity, pollMs, logger });
    return new TransactionalOutbox({ database, relay, closeTimeoutMs: options.closeTimeoutMs });
  }

  if (options.databaseUrl === undefined) throw new Error('the outbox on PostgreSQL needs its URL');
  const url = options.databaseUrl;
  const [{ Kysely, PostgresDialect }, { openPool }, { openWakeChannel, outboxChannel }] = await Promise.all([
    import('kysely'),
    import('../db/postgres.ts'),
    import('./postgres-wake.ts'),
  ]);
  const pool = openPool({
    url,
    schema: database.schema,
    size: POSTGRES_BATCHES,
    onError: (error, context) => logger.error({ err: error }, `outbox: ${context}`),
  });
  const claimDb: Database = new Kysely({ dialect: new PostgresDialect({ pool }) });
  const relay = new OutboxRelay({
    db: database.db,
    inClaim: (work) => claimDb.transaction().execute(work),
    lock: true,
    maxBatches: POSTGRES_BATCHES,
    pollMs,
    logger,
  });
  const wakes = openWakeChannel({
    url,
    channel: outboxChannel(database.schema),
    onWake: () => relay.wake(),
    onError: (error) => logger.error({ err: error }, 'outbox: the connection that listens for new events failed; reconnecting'),
  });
  return new TransactionalOutbox({
    database,
    relay,
    closeTimeoutMs: options.closeTimeoutMs,
    wakes,
    // After a timed-out close a handler still holds a connection, and ending the pool would wait for it.
    release: () => (relay.busy ? void claimDb.destroy() : claimDb.destroy()),
  });
}

type Parts = {
  readonly database: DatabaseHandle;
  readonly relay: OutboxRelay;
  readonly closeTimeoutMs: number;
  /** PostgreSQL: the other instances' relays, told after each commit that wrote events. */
  readonly wakes?: WakeChannel;
  readonly release?: () => Promise<void> | void;
};

class TransactionalOutbox implements Outbox {
  readonly #parts: Parts;

  constructor(parts: Parts) {
    this.#parts = parts;
  }

  async transaction<T>(db: Database, work: (trx: Database, emit: EmitEvent) => Promise<T>): Promise<T> {
    const { relay } = this.#parts;
    const events: OutboxEvent[] = [];
    let open = true;
    const emit: EmitEvent = async (event) => {
      if (!open) throw new Error(`outbox: ${event.topic} emitted after its transaction's work returned`);
      relay.noteTopic(event.topic);
      events.push(event);
    };
    const result = await db
      .transaction()
      .execute(async (trx) => {
        const value = await work(trx, emit);
        open = false;
        if (events.length > 0) await insertEvents(trx, events);
        return value;
      })
      .finally(() => (open = false));
    if (events.length > 0) this.#wake();
    return result;
  }

  async writeWith<T>(events: readonly OutboxEvent[], write: (insertEvents: RawBuilder<unknown>) => Promise<T>): Promise<T> {
    for (const event of events) this.#parts.relay.noteTopic(event.topic);
    const result = await write(insertEventsQuery(events));
    if (events.length > 0) this.#wake();
    return result;
  }

  /** After a commit that wrote events: this process's relay, and on PostgreSQL the others'. */
  #wake(): void {
    this.#parts.relay.wake();
    this.#parts.wakes?.notify();
  }

  start(handlers: readonly AnyOutboxHandler[]): void {
    this.#parts.relay.start(handlers);
  }

  stats(): Promise<OutboxStats> {
    return outboxStats(this.#parts.database.db);
  }

  async drained(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const { relay } = this.#parts;
    // Busy before and after the count: a batch may start or end while it runs. The count is capped,
    // which does not matter here: only whether it is 0.
    while (relay.busy || (await this.stats()).backlog > 0 || relay.busy) {
      if (Date.now() >= deadline) throw new Error(`the outbox still had events after ${timeoutMs} ms`);
      await delay(DRAIN_CHECK_MS);
    }
  }

  async close(): Promise<void> {
    await this.#parts.relay.close(this.#parts.closeTimeoutMs);
    await this.#parts.wakes?.close();
    await this.#parts.release?.();
  }
}
