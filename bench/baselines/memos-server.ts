/**
 * The floor for the memos suite: a bare Fastify server running the same SQL as Plaza's memo routes
 * on the same database, with no auth, validation, schemas, hooks or logging. The user comes from the
 * path. It reads the same environment as Plaza to find the database.
 */
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import Fastify from 'fastify';
import pg from 'pg';
import { monotonicFactory } from 'ulid';

type Row = Record<string, unknown>;
type Database = { query(text: string, params: unknown[]): Promise<Row[]>; close(): Promise<void> };

const COLUMNS = 'id, user_id, text, created_at, updated_at';
// Plaza asks for one row more than the page (21) to know whether another page follows; the one
// extra index entry is noise next to what is measured.
const SELECT_PAGE = `select ${COLUMNS} from memos where user_id = $1 order by id desc limit 20`;
const INSERT = `insert into memos (${COLUMNS}) values ($1, $2, $3, $4, $5) returning ${COLUMNS}`;

/** Plaza's ids are ULIDs too, so inserts land in the indexes the same way. */
const newId = monotonicFactory();

async function openDatabase(env: NodeJS.ProcessEnv): Promise<Database> {
  if (env.DATABASE_URL === undefined) {
    const pglite = await PGlite.create({ dataDir: join(required(env, 'DATA_DIR'), 'db') });
    return { query: async (text, params) => (await pglite.query<Row>(text, params)).rows, close: () => pglite.close() };
  }
  const pool = new pg.Pool({
    connectionString: env.DATABASE_URL,
    max: Number(required(env, 'DATABASE_POOL_SIZE')),
    options: `-c search_path=${required(env, 'DATABASE_SCHEMA')}`,
  });
  return { query: async (text, params) => (await pool.query<Row>(text, params)).rows, close: () => pool.end() };
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const database = await openDatabase(process.env);
  const app = Fastify();
  app.addHook('onClose', () => database.close());

  app.get('/readyz', async () => {
    await database.query('select 1', []);
    return { status: 'ok' };
  });

  app.get<{ Params: { userId: string } }>('/users/:userId/memos', async (request) => ({
    items: await database.query(SELECT_PAGE, [request.params.userId]),
  }));

  app.post<{ Params: { userId: string }; Body: { text: string } }>('/users/:userId/memos', async (request, reply) => {
    const now = new Date();
    const { userId } = request.params;
    const [row] = await database.query(INSERT, [newId(now.getTime()), userId, request.body.text, now, now]);
    return reply.code(201).send(row);
  });

  process.once('SIGTERM', () => void app.close());
  await app.listen({ host: '127.0.0.1', port: Number(required(process.env, 'PORT')) });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
