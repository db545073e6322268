import type { Generated } from 'kysely';

/** One event waiting for its handler (see store.ts). */
export type OutboxEventsTable = {
  /** A bigint, which the drivers read as a string. */
  id: Generated<string>;
  topic: string;
  key: string | null;
  payload: unknown;
  created_at: Generated<Date>;
  attempts: Generated<number>;
  available_at: Generated<Date>;
  last_error: string | null;
};

export type OutboxTables = { outbox_events: OutboxEventsTable };
