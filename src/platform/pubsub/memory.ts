import type { PubSub, PubSubListener, PubSubMessage } from './types.ts';

/** Pub/sub within this process: the embedded profile runs one process, so this reaches everyone. */
export class MemoryPubSub implements PubSub {
  readonly #channels = new Map<string, Set<PubSubListener>>();

  async publish(messages: readonly PubSubMessage[]): Promise<void> {
    for (const { channel, message } of messages) {
      // A copy: a listener may unsubscribe, or another subscribe, while this runs.
      for (const listener of [...(this.#channels.get(channel) ?? [])]) listener(message);
    }
  }

  async subscribe(channel: string, listener: PubSubListener): Promise<() => Promise<void>> {
    const listeners = this.#channels.get(channel) ?? new Set();
    this.#channels.set(channel, listeners);
    // Each subscription is its own, even when the same function subscribes twice.
    const own: PubSubListener = (message) => listener(message);
    listeners.add(own);
    return async () => {
      listeners.delete(own);
      if (listeners.size === 0 && this.#channels.get(channel) === listeners) this.#channels.delete(channel);
    };
  }

  async close(): Promise<void> {
    this.#channels.clear();
  }
}
