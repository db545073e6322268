import { sql } from 'kysely';
import type { Database } from '../db/database.ts';
import type { OutboxEvent, OutboxStats } from './types.ts';

/** An event as the relay claims it. */
export type StoredEvent = { readonly id: string; readonly topic: string; readonly key: string | null; readonly payload: unknown };

/** Writes `events` in one statement, whatever their number: a write pays one round trip for its outbox. */
export async function insertEvents(trx: Database, events: readonly OutboxEvent[]): Promise<void> {
  const rows = JSON.stringify(events.map((event) => ({ topic: event.topic, key: event.key ?? null, payload: event.payload ?? null })));
  await sql`
    insert into outbox_events (topic, key, payload)
    select e.event->>'topic', e.event->>'key', e.event->'payload'
    from jsonb_array_elements(${rows}::jsonb) with ordinality as e(event, n)
    order by e.n`.execute(trx);
}

export type ClaimOptions = {
  readonly limit: number;
  /** Only these topics: others wait for a process that handles them. */
  readonly topics: readonly string[];
  /** On PostgreSQL: lock the rows until the transaction ends, skipping rows another relay holds. */
  readonly lock: boolean;
};

/**
 * The oldest ready events, at most one per key: an event whose key has an earlier event still in the
 * table (being handled, or waiting out a retry) waits for it, which keeps each key in write order.
 */
export async function claimEvents(db: Database, { limit, topics, lock }: ClaimOptions): Promise<StoredEvent[]> {
  const { rows } = await sql<StoredEvent>`
    select o.id, o.topic, o.key, o.payload
    from outbox_events o
    where o.available_at <= now()
      and o.topic = any(${[...topics]}::text[])
      and not exists (select 1 from outbox_events e where e.key = o.key and e.id < o.id)
    order by o.id
    limit ${limit}
    ${lock ? sql`for update of o skip locked` : sql``}`.execute(db);
  return rows.map((row) => ({ ...row, id: String(row.id) }));
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

export async function outboxStats(db: Database): Promise<OutboxStats> {
  const row = await db
    .selectFrom('outbox_events')
    .select([
      sql<number>`count(*)::int`.as('backlog'),
      sql<number>`coalesce(extract(epoch from now() - min(created_at)), 0)::float8`.as('oldestAgeSeconds'),
    ])
    .executeTakeFirstOrThrow();
  return { backlog: row.backlog, oldestAgeSeconds: Math.max(0, row.oldestAgeSeconds) };
}

/** Topics waiting in the table that none of `topics` names. */
export async function otherTopics(db: Database, topics: readonly string[]): Promise<string[]> {
  const { rows } = await sql<{ topic: string }>`
    select distinct topic from outbox_events where topic <> all(${[...topics]}::text[])`.execute(db);
  return rows.map((row) => row.topic);
}
