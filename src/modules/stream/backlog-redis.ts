import { Redis, type ChainableCommander } from 'ioredis';
import { redisChannel } from '#platform/pubsub/redis.ts';
import { covers, compareEventIds, FIRST_ID, parseEventId, userChannel, type Addressed, type BacklogLimits, type EventBacklog, type Replay, type StoredEvent } from './backlog.ts';

/** Events appended per round trip: a fan-out to many followers is several, none holding Redis long. */
const EVENTS_PER_ROUND_TRIP = 1000;
/** Events per script call: one call for each costs Redis more in parsing and dispatch than the work. */
const EVENTS_PER_CALL = 100;

/**
 * KEYS: for each event, its user's stream and presence mark; ARGV: length, ttl, then for each event
 * its type, data and channel. For each whose user is present, appends, renews the expiry and
 * publishes the event with its id, in one step: no other event of the user's comes between. For
 * the others, drops their stream (see EventBacklog.append). Returns the ids, false for those dropped.
 */
const APPEND_SCRIPT = `
local ids = {}
for i = 1, #KEYS / 2 do
  local key, present = KEYS[i * 2 - 1], KEYS[i * 2]
  local type, data, channel = ARGV[i * 3], ARGV[i * 3 + 1], ARGV[i * 3 + 2]
  if redis.call('EXISTS', present) == 1 then
    local id = redis.call('XADD', key, 'MAXLEN', '~', ARGV[1], '*', 't', type, 'd', data)
    redis.call('EXPIRE', key, ARGV[2])
    redis.call('PUBLISH', channel, cjson.encode({ id = id, type = type, data = data }))
    ids[i] = id
  else
    redis.call('UNLINK', key)
    ids[i] = false
  end
end
return ids
`;

type BacklogPipeline = ChainableCommander & {
  plazaStreamAppend(keyCount: number, ...keysThenArgs: (string | number)[]): BacklogPipeline;
};

/**
 * The services profile's backlog: a capped Redis stream per user (`XADD … MAXLEN ~ length`, each
 * entry `t` type and `d` data), expiring `ttlSeconds` after its last event, shared by every
 * instance, in the Redis of the pub/sub it publishes on, beside a mark of who is present (a key
 * per user, expiring `ttlSeconds` after their last mark). Its ids are Redis's stream ids. Redis
 * trims whole nodes, so it keeps at least `length`.
 */
export class RedisBacklog implements EventBacklog {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #presentPrefix: string;
  readonly #channelPrefix: string;
  readonly #limits: BacklogLimits;

  constructor(options: { redisUrl: string; prefix: string; limits: BacklogLimits; onError?: (error: Error) => void }) {
    this.#redis = new Redis(options.redisUrl);
    this.#redis.on('error', (error: Error) => options.onError?.(error));
    this.#redis.defineCommand('plazaStreamAppend', { lua: APPEND_SCRIPT });
    this.#prefix = `${options.prefix}:stream:`;
    this.#presentPrefix = `${options.prefix}:stream-present:`;
    this.#channelPrefix = redisChannel(options.prefix, '');
    this.#limits = options.limits;
  }

  async present(userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const userId of userIds) pipeline.set(this.#presentPrefix + userId, '1', 'EX', this.#limits.ttlSeconds);
    for (const [error] of (await pipeline.exec()) ?? []) if (error !== null) throw error;
  }

  async append(events: readonly Addressed[]): Promise<(string | undefined)[]> {
    const ids: (string | undefined)[] = [];
    for (let start = 0; start < events.length; start += EVENTS_PER_ROUND_TRIP) {
      const pipeline = this.#redis.pipeline() as BacklogPipeline;
      const trip = events.slice(start, start + EVENTS_PER_ROUND_TRIP);
      for (let first = 0; first < trip.length; first += EVENTS_PER_CALL) {
        const call = trip.slice(first, first + EVENTS_PER_CALL);
        const keys = call.flatMap(({ userId }) => [this.#prefix + userId, this.#presentPrefix + userId]);
        const args = call.flatMap(({ userId, event }) => [event.type, event.data, this.#channelPrefix + userChannel(userId)]);
        pipeline.plazaStreamAppend(keys.length, ...keys, this.#limits.length, this.#limits.ttlSeconds, ...args);
      }
      for (const [error, made] of (await pipeline.exec()) ?? []) {
        if (error !== null) throw error;
        ids.push(...(made as (string | null)[]).map((id) => id ?? undefined));
      }
    }
    return ids;
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
