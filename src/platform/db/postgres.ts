import pg from 'pg';
import { prepareStatements } from './prepared-statements.ts';

export type PoolOptions = {
  readonly url: string;
  /** Every connection works in it (search_path). */
  readonly schema: string;
  readonly size: number;
  /** Whether a commit waits for its WAL to be flushed to disk (synchronous_commit); by default it does. */
  readonly waitForFlush?: boolean;
  readonly onError: (error: unknown, context: string) => void;
};

/** A pool whose connections prepare their statements (see prepared-statements.ts). */
export function openPool(options: PoolOptions): pg.Pool {
  const settings = [`-c search_path=${options.schema}`, ...(options.waitForFlush === false ? ['-c synchronous_commit=off'] : [])];
  const pool = new pg.Pool({ connectionString: options.url, max: options.size, options: settings.join(' ') });
  // An idle client losing its server (restart, failover) must not crash the process; the pool
  // drops it and connects anew for the next query. Once the pool is ending, `end()` resolves before
  // its idle connections have closed, and one cut off meanwhile (a database dropped) is no failure.
  pool.on('error', (error) => {
    if (!pool.ending) options.onError(error, 'an idle connection failed');
  });
  prepareStatements(pool);
  return pool;
}
