import type { FastifyBaseLogger } from 'fastify';
import type { PubSub } from '#platform/pubsub/types.ts';
import type { Caller } from '#http/auth.ts';
import { errors } from '#http/errors.ts';
import type { EndedSessions } from '../auth/service.ts';
import type { NotificationDelivery } from '../notifications/service.ts';
import { userChannel, type EventBacklog, type StoredEvent } from './backlog.ts';
import { StreamConnection } from './connection.ts';
import type { PostEventData } from './schemas.ts';

export type StreamService = ReturnType<typeof createStreamService>;

/**
 * Streams one user may hold open on one instance (a phone, a tablet, a few browser tabs); opening
 * another ends their oldest, so one account cannot take up the server's connections.
 */
export const MAX_STREAMS_PER_USER = 8;
/** How long shutdown lets ended streams flush before cutting them off. */
const SHUTDOWN_FLUSH_MS = 1000;
/**
 * When streams ended by a shutdown come back: past the flush (the server has stopped accepting by
 * then, so a balancer sends them elsewhere), spread over a second so they do not all arrive at once.
 */
const SHUTDOWN_RETRY_MS = { from: 1500, spread: 1000 };

export type StreamStats = { readonly open: number; readonly sent: ReadonlyMap<string, number>; readonly dropped: number };

/**
 * Live events (`GET /v1/stream`): each user's events go into their backlog, which publishes them on
 * their pub/sub channel; every open stream of theirs, on any instance, listens there. Only the
 * events of users who have a stream open, or had one within STREAM_BACKLOG_TTL, are kept: an author
 * with 10,000 followers who never stream costs the backlog nothing per post. A stream
 * that comes back with `Last-Event-ID` is replayed what it missed from the backlog first. Streams
 * of a session that ends (logout, password change, account deleted) close on every instance: auth
 * tells each instance (`sessionsEnded`).
 */
export function createStreamService(deps: {
  pubsub: PubSub;
  backlog: EventBacklog;
  /** Asked once per stream opened, past the access cache: a stream may outlive many requests. */
  sessions: { isSessionActive(caller: Caller): Promise<boolean> };
  heartbeatMs: number;
  maxBufferedBytes: number;
  logger: Pick<FastifyBaseLogger, 'error'>;
}) {
  const { pubsub, backlog, sessions, logger } = deps;
  const open = new Set<StreamConnection>();
  const sent = new Map<string, number>();
  let dropped = 0;
  let heartbeats: NodeJS.Timeout | undefined;

  /** Keeps the users of these streams present in the backlog, so that their events are kept. */
  function markPresent(connections: Iterable<StreamConnection>): void {
    const userIds = [...connections].map((connection) => connection.caller.userId);
    void backlog.present(userIds).catch((error: unknown) => logger.error({ err: error }, 'stream: marking users present failed'));
  }

  /** One timer for every stream of the process, running while any is open. */
  function keepHeartbeats(): void {
    if (open.size > 0 && heartbeats === undefined) {
      heartbeats = setInterval(() => {
        for (const connection of open) connection.heartbeat();
        markPresent(open);
      }, deps.heartbeatMs).unref();
    } else if (open.size === 0 && heartbeats !== undefined) {
      clearInterval(heartbeats);
      heartbeats = undefined;
    }
  }

  function endSessionsHere(ended: EndedSessions): void {
    for (const connection of open) {
      const { userId, sessionId } = connection.caller;
      const matches = 'sessionId' in ended ? sessionId === ended.sessionId : userId === ended.userId && sessionId !== ended.exceptSessionId;
      if (matches) connection.end();
    }
  }

  /** Events, each to its users: stored in each one's backlog and published to their open streams. */
  async function send(events: readonly { userIds: readonly string[]; type: string; data: unknown }[]): Promise<void> {
    if (events.length === 0) return;
    await backlog.append(events.map(({ userIds, type, data }) => ({ userIds, event: { type, data: JSON.stringify(data) } })));
    // Node sends what the streams here were given once this tick ends: let it, before the caller's
    // next work (a home-feed fan-out, on PGlite run in this very thread) holds the thread.
    await new Promise((resolve) => setImmediate(resolve));
  }

  return {
    /**
     * Opens a stream for the caller: subscribes, checks the session, then reads what came after
     * `lastEventId`. Live events that arrive meanwhile wait, and those the replay also held are
     * skipped, so nothing is lost or doubled across the switch.
     */
    async open(caller: Caller, lastEventId: string | undefined): Promise<StreamConnection> {
      const connection = new StreamConnection(caller, {
        maxBufferedBytes: deps.maxBufferedBytes,
        events: {
          sent: (type) => sent.set(type, (sent.get(type) ?? 0) + 1),
          dropped: () => (dropped += 1),
          closed: () => {
            open.delete(connection);
            keepHeartbeats();
            // The backlog's time-to-live runs from here: a client that comes back within it is replayed what it missed.
            markPresent([connection]);
            void unsubscribe().catch((error: unknown) => logger.error({ err: error }, 'stream: leaving a channel failed'));
          },
        },
      });
      // Present before listening: from here on the caller's events are kept for its replays.
      await backlog.present([caller.userId]);
      const unsubscribe = await pubsub.subscribe(userChannel(caller.userId), (message) => connection.live(JSON.parse(message) as StoredEvent));
      // Registered before the session check: an ending published after the check still finds it.
      const own = [...open].filter((other) => other.caller.userId === caller.userId && other.isOpen);
      for (const oldest of own.slice(0, Math.max(0, own.length - MAX_STREAMS_PER_USER + 1))) oldest.end();
      open.add(connection);
      keepHeartbeats();
      try {
        if (!(await sessions.isSessionActive(caller))) {
          throw errors.invalidAccessToken('The session of this access token has ended (signed out, password changed, or ended for safety): sign in again');
        }
        connection.start(lastEventId === undefined ? undefined : await backlog.since(caller.userId, lastEventId));
      } catch (error) {
        connection.destroy();
        throw error;
      }
      return connection;
    },

    /** Notifications, as each recipient sees them, to their streams. */
    notificationDelivery: (async (made) => {
      await send(made.map(({ recipientId, notification }) => ({ userIds: [recipientId], type: 'notification', data: notification })));
    }) satisfies NotificationDelivery,

    /** New posts, each to the readers whose home timelines show it. */
    postsPublished: (posts: readonly { post: PostEventData; readerIds: readonly string[] }[]) =>
      send(posts.map(({ post, readerIds }) => ({ userIds: readerIds, type: 'post', data: post }))),

    /** Closes the streams of sessions that ended (auth tells every instance). */
    sessionsEnded: endSessionsHere,

    stats: (): StreamStats => ({ open: open.size, sent, dropped }),

    /** Ends every stream, telling it to reconnect (shutdown): they flush for a moment, then the rest are cut off. */
    async close(): Promise<void> {
      const ending = [...open];
      for (const connection of ending) connection.reconnect(SHUTDOWN_RETRY_MS.from + Math.floor(Math.random() * SHUTDOWN_RETRY_MS.spread));
      const deadline = Date.now() + SHUTDOWN_FLUSH_MS;
      while (open.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      for (const connection of open) connection.destroy();
    },
  };
}
