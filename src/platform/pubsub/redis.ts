import { Redis } from 'ioredis';
import type { PubSub, PubSubListener, PubSubMessage } from './types.ts';

export type RedisPubSubOptions = {
  redisUrl: string;
  /** Namespaces every channel, so deployments and test runs can share one Redis. */
  prefix: string;
  onError?: (error: Error) => void;
};

/** The Redis channel a pub/sub channel is, for scripts that publish on it themselves. */
export const redisChannel = (prefix: string, channel: string) => `${prefix}:pubsub:${channel}`;

/** A channel as this process holds it: its local listeners, and its SUBSCRIBE/UNSUBSCRIBE in order. */
type Channel = { readonly listeners: Set<PubSubListener>; joined: boolean; turn: Promise<void> };

/**
 * Redis pub/sub with one subscriber connection per process (besides the one that publishes): a
 * channel is joined on its first local listener and left after its last, so Redis sends a message
 * to each process once, whatever its number of listeners. Joins and leaves of one channel run one
 * after the other, so a leave never overtakes the join of a listener that came back meanwhile.
 */
export class RedisPubSub implements PubSub {
  readonly #prefix: string;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #channels = new Map<string, Channel>();

  constructor(options: RedisPubSubOptions) {
    this.#prefix = redisChannel(options.prefix, '');
    this.#publisher = new Redis(options.redisUrl, { lazyConnect: true });
    this.#subscriber = new Redis(options.redisUrl, { lazyConnect: true });
    for (const connection of [this.#publisher, this.#subscriber]) connection.on('error', (error: Error) => options.onError?.(error));
    this.#subscriber.on('message', (name: string, message: string) => {
      const channel = this.#channels.get(name.slice(this.#prefix.length));
      for (const listener of [...(channel?.listeners ?? [])]) listener(message);
    });
  }

  async connect(): Promise<void> {
    await Promise.all([this.#publisher.connect(), this.#subscriber.connect()]);
  }

  async publish(messages: readonly PubSubMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const pipeline = this.#publisher.pipeline();
    for (const { channel, message } of messages) pipeline.publish(this.#prefix + channel, message);
    for (const [error] of (await pipeline.exec()) ?? []) if (error !== null) throw error;
  }

  async subscribe(name: string, listener: PubSubListener): Promise<() => Promise<void>> {
    const channel = this.#channels.get(name) ?? { listeners: new Set(), joined: false, turn: Promise.resolve() };
    this.#channels.set(name, channel);
    const own: PubSubListener = (message) => listener(message);
    channel.listeners.add(own);
    try {
      await this.#settle(name, channel);
    } catch (error) {
      channel.listeners.delete(own);
      throw error;
    }
    return async () => {
      channel.listeners.delete(own);
      await this.#settle(name, channel);
    };
  }

  /** Joins or leaves the channel as its listeners now need, after whatever it was doing. */
  #settle(name: string, channel: Channel): Promise<void> {
    const step = async () => {
      const wanted = channel.listeners.size > 0;
      if (wanted === channel.joined) return;
      if (wanted) await this.#subscriber.subscribe(this.#prefix + name);
      else await this.#subscriber.unsubscribe(this.#prefix + name);
      channel.joined = wanted;
      if (!wanted && channel.listeners.size === 0 && this.#channels.get(name) === channel) this.#channels.delete(name);
    };
    const turn = channel.turn.then(step, step);
    channel.turn = turn.catch(() => {});
    return turn;
  }

  async close(): Promise<void> {
    this.#channels.clear();
    await Promise.allSettled([this.#publisher.quit(), this.#subscriber.quit()]);
  }
}
