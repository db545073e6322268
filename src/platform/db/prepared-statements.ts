import type pg from 'pg';

/** Statements each connection keeps prepared; later ones run unprepared (see below). */
const MAX_PREPARED_PER_CONNECTION = 200;

const RESULT_TYPE_CHANGED = /cached plan must not change result type/;

/**
 * Makes a pool's clients run every statement that has parameters as a named prepared statement, so
 * PostgreSQL parses and plans it once per connection instead of on every run. A home timeline page
 * spends longer being planned than run. Each connection prepares at most
 * MAX_PREPARED_PER_CONNECTION distinct statements, which bounds the server's memory (queries with
 * `in (…)` lists make one statement per list length). A statement whose result columns changed
 * under it (a migration by a newer instance during a rolling deploy) runs unprepared from then on.
 */
export function prepareStatements(pool: pg.Pool): void {
  pool.on('connect', (client) => {
    const names = new Map<string, string | null>();
    const query = client.query.bind(client) as (config: pg.QueryConfig | string, values?: unknown[]) => Promise<pg.QueryResult>;
    client.query = (async (text: unknown, values?: unknown[]) => {
      if (typeof text !== 'string' || values === undefined || values.length === 0) return query(text as string, values);
      let name = names.get(text);
      if (name === undefined) {
        name = names.size < MAX_PREPARED_PER_CONNECTION ? `plaza_${names.size}` : null;
        names.set(text, name);
      }
      if (name === null) return query(text, values);
      try {
        return await query({ name, text, values });
      } catch (error) {
        if (!RESULT_TYPE_CHANGED.test((error as Error).message)) throw error;
        names.set(text, null);
        return query(text, values);
      }
    }) as typeof client.query;
  });
}
