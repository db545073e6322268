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
    // No batch holds the connection, so a slow topic delays no other.
    const relay = new OutboxRelay({ db: database.db, inClaim: (work) => work(database.db), lock: false, pollMs, logger });
    return new TransactionalOutbox({ database, relay, closeTimeoutMs: options.closeTimeoutMs });
  }

  if (options.databaseUrl === undefined) throw new Error('the outbox on PostgreSQL needs its URL');
  const url = options.databaseUrl;
  const [{ Kysely, PostgresDialect }, { openPool }, { openWakeChannel, outboxChannel }] = await Promise.all([
    import('kysely'),
    import('../db/postgres.ts'),
    import('./postgres-wake.ts'),
  ]);
  const claims = new ClaimConnections((size) => {
    const pool = openPool({
      url,
      schema: database.schema,
      size,
      // A claim's commit only deletes the events handled (or postpones failed ones): lost in a crash,
      // they are handled again, as at-least-once allows. Not waiting for the WAL flush spares each
      // batch a disk write; what handlers write goes through the app's pool, durably.
      waitForFlush: false,
      onError: (error, context) => logger.error({ err: error }, `outbox: ${context}`),
    });
    return new Kysely({ dialect: new PostgresDialect({ pool }) });
  });
  const relay = new OutboxRelay({ db: database.db, inClaim: (work) => claims.run(work), lock: true, pollMs, logger });
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
    beforeStart: (handlers) => claims.open(new Set(handlers.map((handler) => handler.topic)).size),
    // After a timed-out close a handler still holds a connection, and ending the pool would wait for it.
    release: () => (relay.busy ? void claims.close() : claims.close()),
  });
}

/**
 * The relay's own connections on PostgreSQL. Each claim holds its transaction open on one while its
 * handlers run, so a crashed process's claims are released the moment its connections drop (a lease
 * column would keep them until it expired). A pool of its own, rather than the app's: handlers query
 * through the app's pool, and a claim holding the last of its connections would wait for them
 * forever. One connection per topic handled, as a topic has one claim at a time: however slow some
 * topics' handlers are, the others always get a connection. pg opens them when a claim needs one and
 * closes them after 10 s idle, so a quiet instance holds none but the one that LISTENs. A server's
 * `idle_in_transaction_session_timeout` must exceed the slowest handler.
 */
class ClaimConnections {
  readonly #openPool: (size: number) => Database;
  #db: Database | undefined;

  constructor(openPool: (size: number) => Database) {
    this.#openPool = openPool;
  }

  open(topics: number): void {
    this.#db = this.#openPool(Math.max(1, topics));
  }

  run<T>(work: (db: Database) => Promise<T>): Promise<T> {
    if (this.#db === undefined) throw new Error('the outbox relay claimed before it started');
    return this.#db.transaction().execute(work);
  }

  async close(): Promise<void> {
    await this.#db?.destroy();
  }
}

type Parts = {
  readonly database: DatabaseHandle;
  readonly relay: OutboxRelay;
  readonly closeTimeoutMs: number;
  /** PostgreSQL: the other instances' relays, told after each commit that wrote events. */
  readonly wakes?: WakeChannel;
  /** PostgreSQL: opens the relay's connections, one per topic handled. */
  readonly beforeStart?: (handlers: readonly AnyOutboxHandler[]) => void;
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
    if (events.length > 0) this.#wake(events);
    return result;
  }

  async writeWith<T>(events: readonly OutboxEvent[], write: (insertEvents: RawBuilder<unknown>) => Promise<T>): Promise<T> {
    for (const event of events) this.#parts.relay.noteTopic(event.topic);
    const result = await write(insertEventsQuery(events));
    if (events.length > 0) this.#wake(events);
    return result;
  }

  /** After a commit that wrote events: this process's relay, and on PostgreSQL the others'. */
  #wake(events: readonly OutboxEvent[]): void {
    this.#parts.relay.wake(events.map((event) => event.topic));
    this.#parts.wakes?.notify();
  }

  start(handlers: readonly AnyOutboxHandler[]): void {
    this.#parts.beforeStart?.(handlers);
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
