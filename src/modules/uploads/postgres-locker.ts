import { createHash, randomUUID } from 'node:crypto';
import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/server';
import pg from 'pg';
import { reconnectsWithBackoff } from '#platform/db/reconnects.ts';

export type PostgresLockerOptions = {
  readonly url: string;
  /** Instances sharing a database but not a schema lock and ask apart. */
  readonly schema: string;
  /** How long a request waits for an upload's lock before it gives up (default 30 s, as tus's own locker). */
  readonly acquireTimeoutMs?: number;
  readonly onError: (error: unknown) => void;
};

export type PostgresLocker = Locker & { close(): Promise<void> };

/** How the lock connection shows in `pg_stat_activity`. */
export const LOCKS_APPLICATION_NAME = 'plaza-tus-locks';
const DEFAULT_ACQUIRE_TIMEOUT_MS = 30_000;
/** Between tries for a lock another instance holds. */
const RETRY_MS = 50;
/** A holder that missed the ask (its connection was being replaced) is asked again this often. */
const ASK_AGAIN_MS = 1_000;

/** A request waiting for, or holding, an upload's lock in this process. */
type Holder = { readonly release: RequestRelease; connection: pg.Client | undefined };

/**
 * tus's locker across instances: a PostgreSQL session advisory lock per upload, taken on one
 * connection of this process's own. The lock lives as long as that connection, so a holder that
 * crashes (or loses the database) lets go at once, with no expiry to wait out. Session locks are
 * re-entrant within a connection, so requests of this process take turns in memory first.
 *
 * As tus asks, a request wanting a held lock asks the holder to release it: in this process
 * directly, on other instances through NOTIFY on the same connection. The holder then ends its
 * request (tus's lock drain), and the waiter takes the lock once it is free, or gives up after
 * `acquireTimeoutMs`.
 */
export function openPostgresLocker(options: PostgresLockerOptions): PostgresLocker {
  const self = randomUUID();
  const digest = createHash('sha256').update(options.schema).digest('hex').slice(0, 32);
  const channel = `plaza_tus_release_${digest}`;
  const acquireTimeoutMs = options.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS;
  const holders = new Map<string, Holder>();
  /** The last query sent on each connection: pg wants one at a time, so each waits for the one before. */
  const queued = new WeakMap<pg.Client, Promise<unknown>>();
  let client: pg.Client | undefined;
  let closed = false;

  /** The connection is gone, and with it every lock it held: their holders are asked to stop. */
  const lost = (connection: pg.Client, error?: unknown) => {
    if (client !== connection) return;
    client = undefined;
    if (error !== undefined && !closed) options.onError(error);
    void connection.end().catch(() => {});
    for (const holder of holders.values()) {
      if (holder.connection !== connection) continue;
      holder.connection = undefined;
      void holder.release();
    }
    if (!closed) reconnects.schedule();
  };

  const connect = async () => {
    const url = new URL(options.url);
    url.searchParams.set('application_name', LOCKS_APPLICATION_NAME);
    // Keep-alive: a half-open connection would otherwise keep its locks until TCP gives up.
    const connecting = new pg.Client({ connectionString: url.toString(), keepAlive: true });
    connecting.on('notification', (message) => {
      const [from, id] = (message.payload ?? '').split(' ');
      if (from !== self && id !== undefined) void holders.get(id)?.release();
    });
    connecting.on('error', (error) => lost(connecting, error));
    connecting.on('end', () => lost(connecting));
    client = connecting;
    // Queries asked for meanwhile wait until it listens.
    const ready = connecting.connect().then(() => connecting.query(`listen ${connecting.escapeIdentifier(channel)}`));
    queued.set(connecting, ready.catch(() => {}));
    try {
      await ready;
      if (closed) return void (await connecting.end());
      reconnects.succeeded();
    } catch (error) {
      lost(connecting, error);
    }
  };

  const query = <R extends pg.QueryResultRow>(connection: pg.Client, text: string, values: unknown[]) => {
    const sent = (queued.get(connection) ?? Promise.resolve()).then(() => connection.query<R>(text, values));
    queued.set(connection, sent.catch(() => {}));
    return sent;
  };

  /** Takes the advisory lock on this connection: false when another session holds it, or the connection is down. */
  const tryLock = async (key: string): Promise<pg.Client | undefined> => {
    const connection = client;
    if (connection === undefined) return undefined;
    try {
      const { rows } = await query<{ locked: boolean }>(connection, 'select pg_try_advisory_lock($1::bigint) as locked', [key]);
      return rows[0]?.locked === true && client === connection ? connection : undefined;
    } catch {
      // Lost meanwhile: `lost` has been told; the next try goes to the new connection.
      return undefined;
    }
  };

  const askRelease = (id: string) => {
    if (client !== undefined) query(client, 'select pg_notify($1, $2)', [channel, `${self} ${id}`]).catch(() => {});
  };

  function newLock(id: string): Lock {
    const key = lockKey(options.schema, id);
    let holder: Holder | undefined;
    return {
      async lock(signal, release) {
        const deadline = Date.now() + acquireTimeoutMs;
        // This process's own requests first: the newest asks the one before it to stop.
        for (let other = holders.get(id); other !== undefined; other = holders.get(id)) {
          await other.release();
          if (!(await pause(signal, deadline))) throw ERRORS.ERR_LOCK_TIMEOUT;
        }
        const mine: Holder = { release, connection: undefined };
        holders.set(id, mine);
        let askedAt = 0;
        for (;;) {
          if (closed) {
            holders.delete(id);
            throw ERRORS.ERR_LOCK_TIMEOUT;
          }
          mine.connection = await tryLock(key);
          if (mine.connection !== undefined) return void (holder = mine);
          if (Date.now() - askedAt >= ASK_AGAIN_MS) {
            askRelease(id);
            askedAt = Date.now();
          }
          if (!(await pause(signal, deadline))) {
            if (holders.get(id) === mine) holders.delete(id);
            throw ERRORS.ERR_LOCK_TIMEOUT;
          }
        }
      },
      async unlock() {
        const mine = holder;
        if (mine === undefined) throw new Error('Releasing an unlocked lock!');
        holder = undefined;
        if (holders.get(id) === mine) holders.delete(id);
        // On a connection since lost, the lock went with it.
        if (mine.connection === undefined || mine.connection !== client) return;
        await query(mine.connection, 'select pg_advisory_unlock($1::bigint)', [key]).catch((error: unknown) => {
          if (client === mine.connection) options.onError(error);
        });
      },
    };
  }

  const reconnects = reconnectsWithBackoff(() => void connect());
  void connect();
  return {
    newLock,
    async close() {
      closed = true;
      reconnects.cancel();
      const connection = client;
      client = undefined;
      await connection?.end().catch(() => {});
    },
  };
}

/** The advisory lock key of an upload: 64 bits of a digest, so any id maps to one (a clash only makes two uploads take turns). */
function lockKey(schema: string, id: string): string {
  return createHash('sha256').update(`plaza tus upload\0${schema}\0${id}`).digest().readBigInt64BE(0).toString();
}

/** Waits a retry's time: false once `signal` aborts or `deadline` passes. */
function pause(signal: AbortSignal, deadline: number): Promise<boolean> {
  const ms = Math.min(RETRY_MS, deadline - Date.now());
  if (signal.aborted || ms <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (result: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', aborted);
      resolve(result);
    };
    const aborted = () => done(false);
    const timer = setTimeout(() => done(Date.now() < deadline), ms);
    signal.addEventListener('abort', aborted, { once: true });
  });
}
