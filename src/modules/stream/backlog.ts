import type { PubSub } from '#platform/pubsub/types.ts';

/**
 * Each user's recent live events, kept for replay after a reconnect (`Last-Event-ID`). Ids are the
 * backlog's: `<milliseconds>-<sequence>`, increasing per user (Redis stream ids, or the same shape in
 * memory), and they are what the stream's `id:` lines carry.
 */

/** What an event is, as it is sent: its type and its data, already JSON. */
export type StreamEvent = { readonly type: string; readonly data: string };
export type StoredEvent = StreamEvent & { readonly id: string };
/** An event for some users' backlogs: the same event to each (a post to its author's followers). */
export type Addressed = { readonly userIds: readonly string[]; readonly event: StreamEvent };

/**
 * What followed an id: the events kept after it, or — when the backlog cannot vouch that it still
 * holds every event after it (trimmed past it, expired, never issued) — `reset`, with the newest id
 * kept (`0-0` when none) to start again from.
 */
export type Replay = { readonly kind: 'events'; readonly events: readonly StoredEvent[] } | { readonly kind: 'reset'; readonly newestId: string };

export interface EventBacklog {
  /**
   * Marks these users as listening: each has, or had a moment ago, a stream open. Their events are
   * kept from now until `ttlSeconds` after the last mark; the stream service marks a user when a
   * stream of theirs opens, at every heartbeat while one is open, and when one closes. A user who
   * was not present (any more) starts with an empty backlog: events may have been left out while
   * they were away, so a replay from before says `reset` rather than leave them out.
   */
  present(userIds: readonly string[]): Promise<void>;
  /**
   * Appends each event to each of its users' backlogs and publishes it, with its id, on the user's
   * pub/sub channel (`userChannel`), both as one step, in one round trip for many: a user's
   * listeners get their events in id order, whoever publishes them, so the highest id a client saw
   * is a place in its backlog. An event for a user not present is neither kept nor published:
   * nobody would read it. Resolves with the ids, by event and user, undefined for those left out.
   */
  append(events: readonly Addressed[]): Promise<(string | undefined)[][]>;
  /** The user's events after `afterId`, oldest first; `reset` for an id that is not one of ours. */
  since(userId: string, afterId: string): Promise<Replay>;
  close(): Promise<void>;
}

export type BacklogLimits = {
  /** Events kept per user (Redis trims to about this many). */
  readonly length: number;
  /** A backlog with no new event for this long is dropped, and so are the events of a user not marked present for this long. */
  readonly ttlSeconds: number;
};

/** The pub/sub channel a user's events are published on, as JSON `StoredEvent`s. */
export const userChannel = (userId: string) => `user:${userId}`;

/** Before every id: `Last-Event-ID: 0-0` asks for the whole backlog. */
export const FIRST_ID = '0-0';

const ID = /^(\d{1,15})-(\d{1,15})$/;

/** An id as two numbers, or undefined when it is not one of ours. */
export function parseEventId(id: string): readonly [number, number] | undefined {
  const match = ID.exec(id);
  return match === null ? undefined : [Number(match[1]), Number(match[2])];
}

/** Orders two well-formed ids: negative, zero or positive. */
export function compareEventIds(a: string, b: string): number {
  const [aMs, aSeq] = parseEventId(a) ?? [0, 0];
  const [bMs, bSeq] = parseEventId(b) ?? [0, 0];
  return aMs - bMs || aSeq - bSeq;
}

/**
 * Whether a backlog holds every event after `afterId`: it must lie between the last id the
 * backlog dropped (or, when it dropped none, just before its first) and its newest. `0-0` is
 * covered while nothing was dropped.
 */
export function covers(backlog: { firstId: string; newestId: string; droppedThroughId: string | undefined }, afterId: string): boolean {
  if (compareEventIds(afterId, backlog.newestId) > 0) return false;
  if (backlog.droppedThroughId !== undefined) return compareEventIds(afterId, backlog.droppedThroughId) >= 0;
  return afterId === FIRST_ID || compareEventIds(afterId, backlog.firstId) >= 0;
}

type Ring = { events: StoredEvent[]; droppedThroughId: string | undefined; touchedAt: number; bytes: number };

/** What an event costs the memory backlog, roughly: its data, and a little for the rest. */
const sizeOf = (event: StoredEvent) => event.data.length * 2 + 100;

/**
 * The embedded profile's backlog: a ring per user in this process's memory (the profile runs one
 * process), and who is present in a map beside them. Users go whose backlog saw nothing for `ttlSeconds`, and the least recently written
 * while all rings together hold more than `maxBytes` (default 32 MiB), so memory stays bounded
 * however many users hear something; a restart forgets all, and a client that comes back with an
 * older id is told to reset.
 */
export class MemoryBacklog implements EventBacklog {
  readonly #rings = new Map<string, Ring>();
  /** When each user marked present stops being so, in the order of their last mark. */
  readonly #presentUntil = new Map<string, number>();
  readonly #limits: BacklogLimits;
  readonly #pubsub: PubSub;
  readonly #maxBytes: number;
  #bytes = 0;
  #lastMs = 0;
  #sequence = 0;

  constructor(limits: BacklogLimits, pubsub: PubSub, options: { maxBytes?: number } = {}) {
    this.#limits = limits;
    this.#pubsub = pubsub;
    this.#maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
  }

  async present(userIds: readonly string[]): Promise<void> {
    const now = Date.now();
    this.#forgetIdle(now);
    const until = now + this.#limits.ttlSeconds * 1000;
    for (const userId of userIds) {
      if (!this.#presentUntil.delete(userId)) this.#forget(userId);
      this.#presentUntil.set(userId, until);
    }
  }

  async append(events: readonly Addressed[]): Promise<(string | undefined)[][]> {
    const now = Date.now();
    this.#forgetIdle(now);
    return events.map(({ userIds, event }) => userIds.map((userId) => this.#appendOne(userId, event, now)));
  }

  #appendOne(userId: string, event: StreamEvent, now: number): string | undefined {
    if (!this.#presentUntil.has(userId)) return undefined;
    const id = this.#nextId(now);
    const ring = this.#rings.get(userId) ?? { events: [], droppedThroughId: undefined, touchedAt: now, bytes: 0 };
    // Re-inserted: the map keeps users in the order they were last written.
    this.#rings.delete(userId);
    this.#rings.set(userId, ring);
    ring.touchedAt = now;
    const stored = { id, ...event };
    ring.events.push(stored);
    this.#resize(ring, sizeOf(stored));
    if (ring.events.length > this.#limits.length) {
      const dropped = ring.events.shift()!;
      ring.droppedThroughId = dropped.id;
      this.#resize(ring, -sizeOf(dropped));
    }
    while (this.#bytes > this.#maxBytes && this.#rings.size > 1) this.#forget(this.#rings.keys().next().value as string);
    // The in-process pub/sub calls its listeners before publish returns: stored and sent are one step.
    void this.#pubsub.publish([{ channel: userChannel(userId), message: JSON.stringify(stored) }]);
    return id;
  }

  async since(userId: string, afterId: string): Promise<Replay> {
    this.#forgetIdle(Date.now());
    const ring = this.#rings.get(userId);
    const newestId = ring?.events.at(-1)?.id ?? FIRST_ID;
    if (parseEventId(afterId) === undefined) return { kind: 'reset', newestId };
    if (ring === undefined) return afterId === FIRST_ID ? { kind: 'events', events: [] } : { kind: 'reset', newestId };
    if (!covers({ firstId: ring.events[0]?.id ?? FIRST_ID, newestId, droppedThroughId: ring.droppedThroughId }, afterId)) return { kind: 'reset', newestId };
    return { kind: 'events', events: ring.events.filter((event) => compareEventIds(event.id, afterId) > 0) };
  }

  async close(): Promise<void> {
    this.#rings.clear();
    this.#presentUntil.clear();
    this.#bytes = 0;
  }

  #resize(ring: Ring, bytes: number): void {
    ring.bytes += bytes;
    this.#bytes += bytes;
  }

  #forget(userId: string): void {
    this.#bytes -= this.#rings.get(userId)?.bytes ?? 0;
    this.#rings.delete(userId);
  }

  /** Ids increase across the process, and across restarts while the clock does. */
  #nextId(now: number): string {
    if (now > this.#lastMs) {
      this.#lastMs = now;
      this.#sequence = 0;
    } else this.#sequence += 1;
    return `${this.#lastMs}-${this.#sequence}`;
  }

  #forgetIdle(now: number): void {
    const before = now - this.#limits.ttlSeconds * 1000;
    for (const [userId, ring] of this.#rings) {
      if (ring.touchedAt >= before) break;
      this.#forget(userId);
    }
    for (const [userId, until] of this.#presentUntil) {
      if (until > now) break;
      this.#presentUntil.delete(userId);
    }
  }
}

/** The backlog beside the pub/sub it publishes on: in memory with the in-process one, else in the same Redis. */
export async function openBacklog(options: {
  pubsub: PubSub;
  redis?: { readonly url: string; readonly prefix: string } | undefined;
  limits: BacklogLimits;
  onError: (error: Error) => void;
}): Promise<EventBacklog> {
  if (options.redis === undefined) return new MemoryBacklog(options.limits, options.pubsub);
  const { RedisBacklog } = await import('./backlog-redis.ts');
  return new RedisBacklog({ redisUrl: options.redis.url, prefix: options.redis.prefix, limits: options.limits, onError: options.onError });
}
