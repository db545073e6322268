import { Readable } from 'node:stream';
import type { Caller } from '#http/auth.ts';
import { compareEventIds, type Replay, type StoredEvent } from './backlog.ts';

/** How long a client waits before reconnecting after the stream ends (the `retry:` field). */
const RETRY_MS = 3000;
/**
 * How long a stream may stay over its bound before it is cut off. Not at once: what is written in
 * one tick leaves for the socket only when the tick ends (Node corks responses), so a burst (a
 * replay, many notifications) passes the bound for a moment even for a client that reads.
 */
const OVER_BOUND_GRACE_MS = 1000;

export type ConnectionEvents = {
  /** An event (not a heartbeat) went into the buffer. */
  sent(type: string): void;
  /** The client read too slowly: its buffer passed the bound, and it was cut off. */
  dropped(): void;
  /** The connection is over, however it ended. */
  closed(): void;
};

/**
 * One open event stream, as the body of its response: text/event-stream frames pushed into a
 * Readable that Fastify pipes to the socket. When the client stops reading, the socket's buffers
 * fill, the pipe stops pulling, and frames pile up here: still past `maxBufferedBytes` a second
 * after passing it, the stream is destroyed (the connection with it), so a stalled client costs
 * about that much (plus what a second brings it).
 *
 * Until `start`, live events wait; `start` sends the replay, then those of them it did not hold.
 * Ids on the wire only increase, so the `Last-Event-ID` a client comes back with is the newest event
 * it has.
 */
export class StreamConnection {
  readonly caller: Caller;
  readonly body: Readable;
  readonly #maxBufferedBytes: number;
  readonly #events: ConnectionEvents;
  /** Live events that came during the replay; undefined once started. */
  #waiting: StoredEvent[] | undefined = [];
  /** Events up to this id were sent by the replay (or are behind the reset), so live copies are skipped. */
  #sentThrough: string | undefined;
  #ending = false;
  #overBoundCheck: NodeJS.Timeout | undefined;

  constructor(caller: Caller, options: { maxBufferedBytes: number; events: ConnectionEvents }) {
    this.caller = caller;
    this.#maxBufferedBytes = options.maxBufferedBytes;
    this.#events = options.events;
    this.body = new Readable({ read() {}, highWaterMark: options.maxBufferedBytes });
    this.body.once('close', () => {
      clearTimeout(this.#overBoundCheck);
      this.#events.closed();
    });
  }

  get isOpen(): boolean {
    return !this.#ending && !this.body.destroyed;
  }

  /** Sends the retry delay, what the replay found (missed events, or a reset), then live events. */
  start(replay: Replay | undefined): void {
    this.#push(`retry: ${RETRY_MS}\n\n`);
    if (replay?.kind === 'reset') {
      this.#sentThrough = replay.newestId;
      this.#frame(replay.newestId, 'reset', JSON.stringify({ reason: 'events were missed: the backlog no longer holds them; fetch what you show again' }));
    } else {
      for (const event of replay?.events ?? []) this.#send(event);
    }
    const waiting = this.#waiting ?? [];
    this.#waiting = undefined;
    for (const event of waiting) this.live(event);
  }

  /** A live event from the user's channel. */
  live(event: StoredEvent): void {
    if (this.#waiting !== undefined) this.#waiting.push(event);
    else if (this.#sentThrough === undefined || compareEventIds(event.id, this.#sentThrough) > 0) this.#send(event);
  }

  heartbeat(): void {
    this.#push(': heartbeat\n\n');
  }

  /**
   * Ends the stream with a `reconnect` event (shutdown): its `retry:` sets when EventSource comes
   * back, with the `Last-Event-ID` it has, to whichever instance then takes it. No `id:`, so that id
   * stays the last event's.
   */
  reconnect(retryMs: number): void {
    this.#push(`retry: ${retryMs}\nevent: reconnect\ndata: ${JSON.stringify({ reason: 'this server is shutting down: reconnect, with Last-Event-ID, to resume' })}\n\n`);
    this.end();
  }

  /** Ends the stream cleanly (what was buffered is still sent). */
  end(): void {
    if (!this.isOpen) return;
    this.#ending = true;
    this.body.push(null);
  }

  /** Cuts the connection off at once. */
  destroy(): void {
    this.body.destroy();
  }

  #send(event: StoredEvent): void {
    this.#sentThrough = event.id;
    this.#frame(event.id, event.type, event.data);
    this.#events.sent(event.type);
  }

  #frame(id: string, type: string, data: string): void {
    // JSON holds no line breaks, so the data is one `data:` line.
    this.#push(`id: ${id}\nevent: ${type}\ndata: ${data}\n\n`);
  }

  #push(frame: string): void {
    if (!this.isOpen) return;
    if (this.body.push(frame) || this.#overBoundCheck !== undefined || this.body.readableLength <= this.#maxBufferedBytes) return;
    this.#overBoundCheck = setTimeout(() => {
      this.#overBoundCheck = undefined;
      if (this.body.destroyed || this.body.readableLength <= this.#maxBufferedBytes) return;
      this.#events.dropped();
      this.body.destroy();
    }, OVER_BOUND_GRACE_MS).unref();
  }
}
