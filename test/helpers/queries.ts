import type { TestApp } from './app.ts';

/** Transaction control, and the outbox relay's claims: on PostgreSQL its own NOTIFY may wake it at any moment. */
const NOT_THE_REQUEST = /^(begin|commit|rollback)|\boutbox_events\b/i;

/** How many queries `work` made, for tests that hold a route's query count to its page size. */
export async function queriesDuring(testApp: TestApp, work: () => Promise<unknown>): Promise<number> {
  const start = testApp.queries.length;
  await work();
  return testApp.queries.slice(start).filter((query) => !NOT_THE_REQUEST.test(query)).length;
}
