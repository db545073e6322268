import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { reconnectsWithBackoff } from '../db/reconnects.ts';

/** Longest channel name PostgreSQL takes (NAMEDATALEN - 1). */
const MAX_CHANNEL_LENGTH = 63;
/** How the listening connection shows in `pg_stat_activity`. */
export const LISTEN_APPLICATION_NAME = 'plaza-outbox-listen';
/**
 * At most one NOTIFY per this long. A transaction that notifies holds a database-wide lock from its
 * commit's start to its end, WAL flush included, so notifying in every write serialises the commits
 * of all writers: measured, that cost posts 40–60 % of their rate. Sent apart from the writes, on
 * the listening connection, a few a second reach the other instances just as well.
 */
const NOTIFY_EVERY_MS = 50;

/**
 * The NOTIFY channel of one schema's outbox: instances sharing a database but not a schema must not
 * wake each other. A schema name too long to fit is replaced by a digest of it.
 */
export function outboxChannel(schema: string): string {
  const channel = `plaza_outbox_${schema}`;
  if (channel.length <= MAX_CHANNEL_LENGTH) return channel;
  return `plaza_outbox_${createHash('sha256').update(schema).digest('hex').slice(0, 40)}`;
}

export type WakeChannelOptions = {
  readonly url: string;
  readonly channel: string;
  /**
   * On another instance's notification, and after every (re)connection, since notifications may
   * have been missed while it was down.
   */
  readonly onWake: () => void;
  readonly onError: (error: unknown) => void;
};

export type WakeChannel = {
  /** Tells the other instances' relays that events were written (soon, and coalesced). */
  notify(): void;
  close(): Promise<void>;
};

/**
 * LISTENs, and NOTIFYs, on a connection of its own (a pooled one would be handed to queries, and
 * dropped when idle), reconnecting with backoff whenever it is lost. While it is down, the other
 * instances are not told; their slow poll finds the events.
 */
export function openWakeChannel(options: WakeChannelOptions): WakeChannel {
  // Every instance hears its own notifications; it already woke its relay itself.
  const self = randomUUID();
  let client: pg.Client | undefined;
  let listening = false;
  let closed = false;
  let notifyPause: NodeJS.Timeout | undefined;
  let notifyAgain = false;

  const retry = () => {
    client = undefined;
    listening = false;
    if (!closed) reconnects.schedule();
  };

  // In the URL: pg lets the URL's parameters override the client's own.
  const listenUrl = new URL(options.url);
  listenUrl.searchParams.set('application_name', LISTEN_APPLICATION_NAME);
  const connect = async () => {
    const connecting = new pg.Client({ connectionString: listenUrl.toString() });
    client = connecting;
    connecting.on('notification', (message) => {
      if (message.payload !== self) options.onWake();
    });
    // A connection already replaced must not replace the current one (which would then never end).
    const lost = (error?: unknown) => {
      if (client !== connecting) return;
      if (error !== undefined) options.onError(error);
      void connecting.end().catch(() => {});
      retry();
    };
    connecting.on('error', lost);
    // The server may end it without an error (its backend terminated): reconnect just the same.
    connecting.on('end', () => lost());
    try {
      await connecting.connect();
      await connecting.query(`listen ${connecting.escapeIdentifier(options.channel)}`);
      if (closed) return void (await connecting.end());
      listening = true;
      reconnects.succeeded();
      options.onWake();
    } catch (error) {
      void connecting.end().catch(() => {});
      if (closed) return;
      options.onError(error);
      if (client === connecting) retry();
    }
  };

  const notify = () => {
    if (notifyPause !== undefined) {
      notifyAgain = true;
      return;
    }
    if (closed || !listening || client === undefined) return;
    client.query('select pg_notify($1, $2)', [options.channel, self]).catch(options.onError);
    notifyPause = setTimeout(() => {
      notifyPause = undefined;
      if (!notifyAgain) return;
      notifyAgain = false;
      notify();
    }, NOTIFY_EVERY_MS).unref();
  };

  const reconnects = reconnectsWithBackoff(() => void connect());
  void connect();
  return {
    notify,
    async close() {
      closed = true;
      reconnects.cancel();
      clearTimeout(notifyPause);
      await client?.end().catch(() => {});
    },
  };
}
