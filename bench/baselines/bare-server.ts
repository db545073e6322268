/**
 * What every bare baseline server shares: the database Plaza uses (found from the same environment),
 * a `/readyz`, a port, and a clean stop on SIGTERM. Each suite adds its own routes, with no auth,
 * validation, schemas, hooks or logging.
 */
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';

export type Row = Record<string, unknown>;
export type Query = (text: string, params: unknown[]) => Promise<Row[]>;
export type BareDatabase = {
  query: Query;
  /** `body`'s statements in one transaction on one connection: committed when it returns, rolled back when it throws. */
  transaction<T>(body: (query: Query) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

export function serveBareBaseline(addRoutes: (app: FastifyInstance, database: BareDatabase) => void): void {
  start(addRoutes).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

async function start(addRoutes: (app: FastifyInstance, database: BareDatabase) => void): Promise<void> {
  const database = await openDatabase(process.env);
  const app = Fastify();
  app.addHook('onClose', () => database.close());
  app.get('/readyz', async () => {
    await database.query('select 1', []);
    return { status: 'ok' };
  });
  addRoutes(app, database);
  process.once('SIGTERM', () => void app.close());
  await app.listen({ host: '127.0.0.1', port: Number(required(process.env, 'PORT')) });
}

async function openDatabase(env: NodeJS.ProcessEnv): Promise<BareDatabase> {
  if (env.DATABASE_URL === undefined) {
    const pglite = await PGlite.create({ dataDir: join(required(env, 'DATA_DIR'), 'db') });
    return {
      query: async (text, params) => (await pglite.query<Row>(text, params)).rows,
      transaction: (body) => pglite.transaction((tx) => body(async (text, params) => (await tx.query<Row>(text, params)).rows)),
      close: () => pglite.close(),
    };
  }
  const pool = new pg.Pool({
    connectionString: env.DATABASE_URL,
    max: Number(required(env, 'DATABASE_POOL_SIZE')),
    options: `-c search_path=${required(env, 'DATABASE_SCHEMA')}`,
  });
  return {
    query: async (text, params) => (await pool.query<Row>(text, params)).rows,
    async transaction(body) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const result = await body(async (text, params) => (await client.query<Row>(text, params)).rows);
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback');
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}
