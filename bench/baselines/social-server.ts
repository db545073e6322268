/**
 * The floor for the social suite: a bare Fastify server running, on the same database as Plaza, one
 * indexed SELECT for a home timeline page (the reader's `home_feeds` rows joined with their posts and
 * the posts' authors) and one bare INSERT for a new post. No auth, validation, schemas, hooks or
 * logging; the user comes from the path. It reads the same environment as Plaza to find the database.
 */
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import Fastify from 'fastify';
import pg from 'pg';
import { monotonicFactory } from 'ulid';

type Row = Record<string, unknown>;
type Database = { query(text: string, params: unknown[]): Promise<Row[]>; close(): Promise<void> };

const POST_COLUMNS = 'id, author_id, text, visibility, price_coins, like_count, created_at';
// home_feeds.post_id is collated "C" and posts.id is not: comparing in posts.id's collation lets the
// join use the posts primary key, and walking the feed's primary key backwards gives the order.
const SELECT_HOME_PAGE = `
  select p.id, p.author_id, p.text, p.visibility, p.price_coins, p.like_count, p.created_at,
         u.handle as author_handle, u.name as author_name
  from home_feeds f
  join posts p on p.id = (f.post_id collate "default")
  join users u on u.id = p.author_id
  where f.user_id = $1
  order by f.post_id desc
  limit 20`;
const INSERT_POST = `insert into posts (${POST_COLUMNS}) values ($1, $2, $3, 'public', 0, 0, $4) returning ${POST_COLUMNS}`;

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

  app.get<{ Params: { userId: string } }>('/users/:userId/home', async (request) => ({
    items: await database.query(SELECT_HOME_PAGE, [request.params.userId]),
  }));

  app.post<{ Params: { userId: string }; Body: { text: string } }>('/users/:userId/posts', async (request, reply) => {
    const now = new Date();
    const [row] = await database.query(INSERT_POST, [newId(now.getTime()), request.params.userId, request.body.text, now]);
    return reply.code(201).send(row);
  });

  process.once('SIGTERM', () => void app.close());
  await app.listen({ host: '127.0.0.1', port: Number(required(process.env, 'PORT')) });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
