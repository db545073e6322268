import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';

export type SseEvent = { readonly id: string | undefined; readonly event: string; readonly data: string };

/**
 * A text/event-stream reader over a real HTTP connection, parsing frames as the HTML standard's
 * EventSource does (fields `id`, `event`, `data`; comment lines; a blank line ends an event), and
 * keeping the last event id the way EventSource does.
 */
export type SseStream = {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Every event so far, in order. */
  readonly events: SseEvent[];
  /** Comment lines so far (heartbeats), without the colon. */
  readonly comments: string[];
  /** The body of an answer that is not a stream (a problem). */
  readonly text: () => string;
  readonly lastEventId: string;
  /** Resolves when the server ends or cuts the stream. */
  readonly ended: Promise<void>;
  /** Waits for an event matching `test` (among those already there, too). */
  next(test: (event: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
};

export async function openStream(
  baseUrl: string,
  options: { token?: string; query?: string; lastEventId?: string; headers?: Record<string, string> } = {},
): Promise<SseStream> {
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  const url = new URL(`/v1/stream${options.query ?? ''}`, baseUrl);
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  let lastEventId = '';
  let raw = '';
  let pending = '';
  let frame: { id: string | undefined; event: string; data: string[] } = { id: undefined, event: 'message', data: [] };

  const line = (text: string) => {
    if (text === '') {
      if (frame.id !== undefined) lastEventId = frame.id;
      if (frame.data.length > 0 || frame.id !== undefined) events.push({ id: frame.id, event: frame.event, data: frame.data.join('\n') });
      frame = { id: undefined, event: 'message', data: [] };
      for (const wake of waiters) wake();
      return;
    }
    if (text.startsWith(':')) return void comments.push(text.slice(1).trim());
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    const value = colon === -1 ? '' : text.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') frame.id = value;
    else if (field === 'event') frame.event = value;
    else if (field === 'data') frame.data.push(value);
  };

  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (response) => {
      response.setEncoding('utf8');
      let endedResolve: () => void = () => {};
      const ended = new Promise<void>((done) => (endedResolve = done));
      const finish = () => {
        endedResolve();
        for (const wake of waiters) wake();
      };
      response.on('data', (chunk: string) => {
        raw += chunk;
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const text of lines) line(text);
      });
      response.on('end', finish);
      response.on('close', finish);
      response.on('error', finish);
      let isEnded = false;
      void ended.then(() => (isEnded = true));
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        events,
        comments,
        text: () => raw,
        get lastEventId() {
          return lastEventId;
        },
        ended,
        async next(test, timeoutMs = 5000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const found = events.find(test);
            if (found !== undefined) return found;
            if (isEnded) assert.fail(`the stream ended without the event; got ${JSON.stringify(events.map((event) => event.event))}`);
            const left = deadline - Date.now();
            if (left <= 0) assert.fail(`no such event within ${timeoutMs} ms; got ${JSON.stringify(events.map((event) => event.event))}`);
            await new Promise<void>((wake) => {
              const timer = setTimeout(wake, left);
              waiters.add(() => {
                clearTimeout(timer);
                wake();
              });
            });
            waiters.clear();
          }
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
