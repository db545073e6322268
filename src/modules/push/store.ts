import { sql, type Selectable } from 'kysely';
import type { Database } from '#platform/db/database.ts';
import type { PushPayload } from './payload.ts';
import type { PushSubscriptionsTable } from './tables.ts';

export type SubscriptionRow = Selectable<PushSubscriptionsTable>;

type NewSubscription = { id: string; userId: string; endpoint: string; p256dh: string; auth: string };

/**
 * Stores a subscription for `userId`: a new endpoint is added; one of theirs takes the keys given;
 * one held by someone else moves to them only with the same keys (the same browser subscription,
 * now signed in as them). Undefined when it is someone else's with other keys.
 */
export async function upsertSubscription(db: Database, subscription: NewSubscription, at: Date): Promise<SubscriptionRow | undefined> {
  const { rows } = await sql<SubscriptionRow>`
    insert into push_subscriptions as s (id, user_id, endpoint, p256dh, auth, created_at, registered_at)
    values (${subscription.id}, ${subscription.userId}, ${subscription.endpoint}, ${subscription.p256dh}, ${subscription.auth}, ${at}, ${at})
    on conflict (endpoint) do update
      set user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth, registered_at = excluded.registered_at
      where s.user_id = excluded.user_id or (s.p256dh = excluded.p256dh and s.auth = excluded.auth)
    returning *`.execute(db);
  return rows[0];
}

/** Keeps a user's `most` most recently registered subscriptions, removing the rest. */
export async function keepNewest(db: Database, userId: string, most: number): Promise<void> {
  await sql`
    delete from push_subscriptions
    where user_id = ${userId} and id not in (
      select id from push_subscriptions where user_id = ${userId} order by registered_at desc, id desc limit ${most})`.execute(db);
}

/** Removes the user's subscription at `endpoint`, if it is theirs. */
export async function deleteOwn(db: Database, userId: string, endpoint: string): Promise<void> {
  await db.deleteFrom('push_subscriptions').where('user_id', '=', userId).where('endpoint', '=', endpoint).execute();
}

export async function removeSubscription(db: Database, id: string): Promise<void> {
  await db.deleteFrom('push_subscriptions').where('id', '=', id).execute();
}

export async function findSubscription(db: Database, id: string): Promise<SubscriptionRow | undefined> {
  return db.selectFrom('push_subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The subscriptions of these users, as (id, user) pairs. */
export async function subscriptionsOf(db: Database, userIds: readonly string[]): Promise<{ id: string; user_id: string }[]> {
  if (userIds.length === 0) return [];
  return db.selectFrom('push_subscriptions').select(['id', 'user_id']).where(sql<boolean>`user_id = any(${[...userIds]}::text[])`).execute();
}

/** One (recipient, type, post) whose notifications just came: how many, and the latest's payload. */
export type Arrival = { userId: string; type: string; subjectId: string; count: number; latest: PushPayload };
/** What a window made of an arrival: push its first now (`opened`), and how many it holds until `endsAt`. */
export type WindowState = { userId: string; type: string; subjectId: string; opened: boolean; held: number; endsAt: Date };

/** Window ends are whole milliseconds, as a close job names its window (JavaScript dates have no more). */
const windowEnd = (seconds: number) => sql`date_trunc('milliseconds', now() + ${seconds}::int * interval '1 second')`;

/**
 * Counts arrivals into their windows, each key at most once in `arrivals`. A closed (or no) window
 * opens: its first notification is pushed and the rest held. An open one holds them all, and so does
 * one past its end whose close has not run yet (that close pushes them all). In one statement, so
 * instances counting into the same window at once add up.
 */
export async function countIntoWindows(db: Database, arrivals: readonly Arrival[], seconds: number): Promise<WindowState[]> {
  if (arrivals.length === 0) return [];
  const { rows } = await sql<{ user_id: string; type: string; subject_id: string; held: number; ends_at: Date; opened: boolean }>`
    insert into push_windows as w (user_id, type, subject_id, ends_at, held, latest)
    select v.user_id, v.type, v.subject_id, ${windowEnd(seconds)}, v.n - 1, v.latest::jsonb
    from unnest(${arrivals.map((a) => a.userId)}::text[], ${arrivals.map((a) => a.type)}::text[], ${arrivals.map((a) => a.subjectId)}::text[],
      ${arrivals.map((a) => a.count)}::int[], ${arrivals.map((a) => JSON.stringify(a.latest))}::text[]) as v (user_id, type, subject_id, n, latest)
    on conflict (user_id, type, subject_id) do update set
      held = case when w.ends_at > now() or w.held > 0 then w.held + excluded.held + 1 else excluded.held end,
      ends_at = case when w.ends_at > now() or w.held > 0 then w.ends_at else excluded.ends_at end,
      latest = excluded.latest
    returning user_id, type, subject_id, held, ends_at, ends_at = ${windowEnd(seconds)} as opened`.execute(db);
  return rows.map((row) => ({ userId: row.user_id, type: row.type, subjectId: row.subject_id, opened: row.opened, held: row.held, endsAt: new Date(row.ends_at) }));
}

export type WindowKey = { userId: string; type: string; subjectId: string };

/**
 * Closes the window that ends at `endsAt`, if it holds anything: takes what it held, and opens the
 * next window from now, since closing it is a push. Undefined when that window was closed already.
 */
export async function closeWindow(db: Database, key: WindowKey, endsAt: Date, seconds: number): Promise<{ held: number; latest: PushPayload } | undefined> {
  const { rows } = await sql<{ held: number; latest: PushPayload }>`
    with taken as (
      select held, latest from push_windows
      where user_id = ${key.userId} and type = ${key.type} and subject_id = ${key.subjectId}
        and date_trunc('milliseconds', ends_at) = ${endsAt} and held > 0
      for update)
    update push_windows w set held = 0, latest = null, ends_at = ${windowEnd(seconds)}
    from taken
    where w.user_id = ${key.userId} and w.type = ${key.type} and w.subject_id = ${key.subjectId}
    returning taken.held, taken.latest`.execute(db);
  return rows[0];
}

/** Windows that should have closed `graceSeconds` ago and still hold something (their flush job was lost). */
export async function overdueWindows(db: Database, graceSeconds: number, limit: number): Promise<(WindowKey & { endsAt: Date })[]> {
  const { rows } = await sql<{ user_id: string; type: string; subject_id: string; ends_at: Date }>`
    select user_id, type, subject_id, ends_at from push_windows
    where held > 0 and ends_at < now() - ${graceSeconds}::int * interval '1 second'
    order by ends_at limit ${limit}`.execute(db);
  return rows.map((row) => ({ userId: row.user_id, type: row.type, subjectId: row.subject_id, endsAt: new Date(row.ends_at) }));
}

/** Forgets windows closed and empty for `seconds`: the next notification opens a new one anyway. */
export async function forgetClosedWindows(db: Database, seconds: number): Promise<void> {
  await sql`delete from push_windows where held = 0 and ends_at < now() - ${seconds}::int * interval '1 second'`.execute(db);
}
