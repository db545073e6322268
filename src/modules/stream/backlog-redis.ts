import { Redis, type ChainableCommander } from 'ioredis';
import { redisChannel } from '#platform/pubsub/redis.ts';
import { covers, compareEventIds, FIRST_ID, parseEventId, userChannel, type Addressed, type BacklogLimits, type EventBacklog, type Replay, type StoredEvent, type StreamEvent } from './backlog.ts';

/** Events appended per round trip: a fan-out to many followers is several, none holding Redis long. */
const EVENTS_PER_ROUND_TRIP = 1000;
/** Events per script call: one call for each costs Redis more in parsing and dispatch than the work. */
const EVENTS_PER_CALL = 100;

/**
 * KEYS: users' streams; ARGV: length, ttl, then for each key its event's type, data and channel.
 * For each, appends, renews the expiry and publishes the event with its id, in one step: no other
 * event of the user's comes between. Returns the ids.
 */
const APPEND_SCRIPT = `
local ids = {}
for i, key in ipairs(KEYS) do
  local type, data, channel = ARGV[i * 3], ARGV[i * 3 + 1], ARGV[i * 3 + 2]
  local id = redis.call('XADD', key, 'MAXLEN', '~', ARGV[1], '*', 't', type, 'd', data)
  redis.call('EXPIRE', key, ARGV[2])
  redis.call('PUBLISH', channel, cjson.encode({ id = id, type = type, data = data }))
  ids[i] = id
end
return ids
`;

/**
 * KEYS: the presence set, then the users' streams; ARGV: now and until (ms), then the users. Forgets
 * whoever's presence has lapsed; a user marked who was not present (any more) loses their stream
 * first (see EventBacklog.present); then each is present until `until`.
 */
const MARK_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for i = 3, #ARGV do
  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then redis.call('UNLINK', KEYS[i - 1]) end
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
end
`;

type BacklogPipeline = ChainableCommander & {
  plazaStreamAppend(keyCount: number, ...keysThenArgs: (string | number)[]): BacklogPipeline;
};
/** One user's copy of an event kept for them: `at` the event's place among those appended, `of` the user's among its users. */
type Kept = { userId: string; event: StreamEvent; at: number; of: number };
type BacklogRedis = Redis & { plazaStreamMark(keyCount: number, ...keysThenArgs: (string | number)[]): Promise<unknown> };

/**
 * The services profile's backlog: a capped Redis stream per user (`XADD … MAXLEN ~ length`, each
 * entry `t` type and `d` data), expiring `ttlSeconds` after its last event, shared by every
 * instance, in the Redis of the pub/sub it publishes on, beside who is present (a sorted set of
 * users by the time their presence lapses, `ttlSeconds` after their last mark). Its ids are Redis's stream ids. Redis
 * trims whole nodes, so it keeps at least `length`.
 */
export class RedisBacklog implements EventBacklog {
  readonly #redis: BacklogRedis;
  readonly #prefix: string;
  readonly #presence: string;
  readonly #channelPrefix: string;
  readonly #limits: BacklogLimits;

  constructor(options: { redisUrl: string; prefix: string; limits: BacklogLimits; onError?: (error: Error) => void }) {
    this.#redis = new Redis(options.redisUrl) as BacklogRedis;
    this.#redis.on('error', (error: Error) => options.onError?.(error));
    this.#redis.defineCommand('plazaStreamAppend', { lua: APPEND_SCRIPT });
    this.#redis.defineCommand('plazaStreamMark', { lua: MARK_SCRIPT });
    this.#prefix = `${options.prefix}:stream:`;
    this.#presence = `${options.prefix}:stream-present`;
    this.#channelPrefix = redisChannel(options.prefix, '');
    this.#limits = options.limits;
  }

  async present(userIds: readonly string[]): Promise<void> {
    const users = [...new Set(userIds)];
    if (users.length === 0) return;
    const now = Date.now();
    const keys = [this.#presence, ...users.map((userId) => this.#prefix + userId)];
    await this.#redis.plazaStreamMark(keys.length, ...keys, now, now + this.#limits.ttlSeconds * 1000, ...users);
  }

  async append(events: readonly Addressed[]): Promise<(string | undefined)[][]> {
    const present = await this.#presentAmong(events.flatMap((event) => event.userIds));
    const ids = events.map(({ userIds }) => new Array<string | undefined>(userIds.length).fill(undefined));
    const kept: Kept[] = [];
    events.forEach(({ userIds, event }, at) => userIds.forEach((userId, of) => present.has(userId) && kept.push({ userId, event, at, of })));
    for (let start = 0; start < kept.length; start += EVENTS_PER_ROUND_TRIP) {
      const pipeline = this.#redis.pipeline() as BacklogPipeline;
      const trip = kept.slice(start, start + EVENTS_PER_ROUND_TRIP);
      const calls: Kept[][] = [];
      for (let first = 0; first < trip.length; first += EVENTS_PER_CALL) {
        const call = trip.slice(first, first + EVENTS_PER_CALL);
        calls.push(call);
        const keys = call.map(({ userId }) => this.#prefix + userId);
        const args = call.flatMap(({ userId, event }) => [event.type, event.data, this.#channelPrefix + userChannel(userId)]);
        pipeline.plazaStreamAppend(keys.length, ...keys, this.#limits.length, this.#limits.ttlSeconds, ...args);
      }
      for (const [index, [error, made]] of ((await pipeline.exec()) ?? []).entries()) {
        if (error !== null) throw error;
        (made as string[]).forEach((id, n) => {
          const { at, of } = calls[index]![n]!;
          ids[at]![of] = id;
        });
      }
    }
    return ids;
  }

  /** Which of these users are present now: one round trip, whoever many. */
  async #presentAmong(userIds: readonly string[]): Promise<Set<string>> {
    const users = [...new Set(userIds)];
    if (users.length === 0) return new Set();
    const now = Date.now();
    const until = await this.#redis.zmscore(this.#presence, ...users);
    return new Set(users.filter((_, index) => Number(until[index] ?? 0) > now));
  }

  async since(userId: string, afterId: string): Promise<Replay> {
    const key = this.#prefix + userId;
    if (parseEventId(afterId) === undefined) return { kind: 'reset', newestId: await this.#newestId(key) };
    // One transaction: the range read is the stream the info describes.
    const [info, range] = (await this.#redis.multi().xinfo('STREAM', key).xrange(key, afterId === FIRST_ID ? '-' : `(${afterId}`, '+').exec()) ?? [];
    if (info?.[0] != null) {
      if (!/no such key/i.test(info[0].message)) throw info[0];
      return afterId === FIRST_ID ? { kind: 'events', events: [] } : { kind: 'reset', newestId: FIRST_ID };
    }
    if (range?.[0] != null) throw range[0];
    const fields = pairs(info?.[1] as unknown[]);
    const newestId = String(fields.get('last-generated-id'));
    const firstId = String((fields.get('first-entry') as unknown[] | null)?.[0] ?? newestId);
    // Trimming leaves no trace of the ids it dropped (max-deleted-entry-id counts XDEL only): past a
    // trim, only ids from the oldest entry kept are vouched for.
    const dropped = Number(fields.get('entries-added')) > Number(fields.get('length'));
    if (!covers({ firstId, newestId, droppedThroughId: dropped ? firstId : undefined }, afterId)) return { kind: 'reset', newestId };
    const events = (range?.[1] as [string, string[]][]).map(([id, values]): StoredEvent => {
      const entry = pairs(values);
      return { id, type: String(entry.get('t')), data: String(entry.get('d')) };
    });
    return { kind: 'events', events: events.filter((event) => compareEventIds(event.id, afterId) > 0) };
  }

  async #newestId(key: string): Promise<string> {
    const newest = (await this.#redis.xrevrange(key, '+', '-', 'COUNT', 1))[0];
    return newest?.[0] ?? FIRST_ID;
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => {});
  }
}

/** A Redis reply of alternating names and values, as a map. */
function pairs(flat: readonly unknown[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let index = 0; index + 1 < flat.length; index += 2) map.set(String(flat[index]), flat[index + 1]);
  return map;
}
