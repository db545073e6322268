/** One message for one channel. */
export type PubSubMessage = { readonly channel: string; readonly message: string };

export type PubSubListener = (message: string) => void;

/**
 * Messages between the processes of a deployment (live events, session revocations): at most
 * once, in publishing order per channel, to the listeners subscribed when the message arrives.
 * Nothing is kept for a listener that was not there (replay is the caller's own, see the stream
 * backlog). In-process for the embedded profile (one process); Redis with REDIS_URL.
 */
export interface PubSub {
  /** Publishes messages, in order, in one round trip however many channels they go to. */
  publish(messages: readonly PubSubMessage[]): Promise<void>;
  /**
   * Adds a listener to a channel; resolves once the subscription holds, so any message published
   * after that reaches it. Resolves with the function that takes the listener off again.
   */
  subscribe(channel: string, listener: PubSubListener): Promise<() => Promise<void>>;
  /** Drops every listener and releases the connections. */
  close(): Promise<void>;
}
