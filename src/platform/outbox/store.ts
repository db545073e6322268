import { sql, type RawBuilder } from 'kysely';
import type { Database } from '../db/database.ts';
import type { OutboxEvent, OutboxStats } from './types.ts';

/** An event as the relay claims it. */
export type StoredEvent = { readonly id: string; readonly topic: string; readonly key: string | null; readonly payload: unknown };

/**
 * The statement, not yet run, that writes `events` in write order, whatever their number: run it,
 * or compose it into a larger statement as a common table expression.
 */
export function insertEventsQuery(events: readonly OutboxEvent[]): RawBuilder<unknown> {
  const rows = JSON.stringify(events.map((event) => ({ topic: event.topic, key: event.key ?? null, payload: event.payload ?? null })));
  return sql`
    insert into outbox_events (topic, key, payload)
    select e.event->>'topic', e.event->>'key', e.event->'payload'
    from jsonb_array_elements(${rows}::jsonb) with ordinality as e(event, n)
    order by e.n`;
}

/** Writes `events` in one statement: a write pays one round trip for its outbox. */
export async function insertEvents(trx: Database, events: readonly OutboxEvent[]): Promise<void> {
  await insertEventsQuery(events).execute(trx);
}

export type ClaimOptions = {
  readonly limit: number;
  /** Only these topics: others wait for a process that handles them. */
  readonly topics: readonly string[];
  /** On PostgreSQL: lock the rows until the transaction ends, skipping rows another relay holds. */
  readonly lock: boolean;
};

/** Events of these topics whose backoff is over and that no earlier event with their key holds back. */
function isReady(topics: readonly string[]) {
  return sql`o.available_at <= now()
    and o.topic = any(${[...topics]}::text[])
    and not exists (select 1 from outbox_events e where e.key = o.key and e.id < o.id)`;
}

/**
 * The oldest ready events, at most one per key: an event whose key has an earlier event still in the
 * table (being handled, or waiting out a retry, whatever its topic) waits for it, which keeps each
 * key in id order. Ids are drawn at insert, not at commit: id order is commit order only for writes
 * ordered by their cause (the same row locked, or one after the other), so same-key events must not
 * come from unrelated concurrent transactions.
 */
export async function claimEvents(db: Database, { limit, topics, lock }: ClaimOptions): Promise<StoredEvent[]> {
  const { rows } = await sql<StoredEvent>`
    select o.id, o.topic, o.key, o.payload
    from outbox_events o
    where ${isReady(topics)}
    order by o.id
    limit ${limit}
    ${lock ? sql`for update of o skip locked` : sql``}`.execute(db);
  return rows.map((row) => ({ ...row, id: String(row.id) }));
}

/**
 * The topics among `topics` that have a ready event, in the order of their oldest: a claim takes one
 * topic's events. It reads no further than a claim of `limit` events would; `more` says it read that
 * many, so topics beyond them may have ready events too.
 */
export async function readyTopics(db: Database, { topics, limit }: Omit<ClaimOptions, 'lock'>): Promise<{ topics: string[]; more: boolean }> {
  const { rows } = await sql<{ topic: string; events: number }>`
    select topic, count(*)::int as events from (
      select o.topic, o.id
      from outbox_events o
      where ${isReady(topics)}
      order by o.id
      limit ${limit}
    ) ready
    group by topic
    order by min(id)`.execute(db);
  const read = rows.reduce((sum, row) => sum + row.events, 0);
  return { topics: rows.map((row) => row.topic), more: read >= limit };
}

export async function deleteEvents(db: Database, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`delete from outbox_events where id = any(${[...ids]}::bigint[])`.execute(db);
}

const FIRST_RETRY_SECONDS = 1;
const LONGEST_RETRY_SECONDS = 300;

/**
 * After a failed attempt: the events wait 1 s, 2 s, 4 s… up to 5 minutes, then are tried again.
 * Returns how many attempts the most tried of them has had, and when the first falls due again.
 */
export async function postponeEvents(db: Database, ids: readonly string[], error: string): Promise<{ attempts: number; retryInMs: number }> {
  const { rows } = await sql<{ attempts: number; retryInMs: number }>`
    update outbox_events
    set attempts = attempts + 1,
        available_at = now() + make_interval(secs => least(${FIRST_RETRY_SECONDS} * power(2, attempts), ${LONGEST_RETRY_SECONDS})),
        last_error = ${error}
    where id = any(${[...ids]}::bigint[])
    returning attempts, (extract(epoch from available_at - now()) * 1000)::float8 as "retryInMs"`.execute(db);
  return {
    attempts: Math.max(0, ...rows.map((row) => row.attempts)),
    retryInMs: Math.min(LONGEST_RETRY_SECONDS * 1000, ...rows.map((row) => row.retryInMs)),
  };
}

/** The backlog is counted up to this many events: /metrics stays cheap however far behind it is. */
export const BACKLOG_COUNT_CAP = 100_000;

/** The oldest event is the first by id (the primary key), not by `created_at` (a full scan). */
export async function outboxStats(db: Database): Promise<OutboxStats> {
  const { rows } = await sql<{ backlog: number; oldestAgeSeconds: number }>`
    select
      (select count(*)::int from (select 1 from outbox_events limit ${BACKLOG_COUNT_CAP}) capped) as backlog,
      coalesce((select extract(epoch from now() - created_at)::float8 from outbox_events order by id limit 1), 0) as "oldestAgeSeconds"`.execute(db);
  const row = rows[0]!;
  return { backlog: row.backlog, oldestAgeSeconds: Math.max(0, row.oldestAgeSeconds) };
}

/** Topics waiting in the table that none of `topics` names. */
export async function otherTopics(db: Database, topics: readonly string[]): Promise<string[]> {
  const { rows } = await sql<{ topic: string }>`
    select distinct topic from outbox_events where topic <> all(${[...topics]}::text[])`.execute(db);
  return rows.map((row) => row.topic);
}
