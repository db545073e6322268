/**
 * The floor for the social suite: a bare Fastify server running, on the same database as Plaza, one
 * indexed SELECT for a home timeline page (the reader's `home_feeds` rows joined with their posts and
 * the posts' authors) and one bare INSERT for a new post. No auth, validation, schemas, hooks or
 * logging; the user comes from the path. It reads the same environment as Plaza to find the database.
 */
import { monotonicFactory } from 'ulid';
import { serveBareBaseline } from './bare-server.ts';

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

serveBareBaseline((app, database) => {
  app.get<{ Params: { userId: string } }>('/users/:userId/home', async (request) => ({
    items: await database.query(SELECT_HOME_PAGE, [request.params.userId]),
  }));

  app.post<{ Params: { userId: string }; Body: { text: string } }>('/users/:userId/posts', async (request, reply) => {
    const now = new Date();
    const [row] = await database.query(INSERT_POST, [newId(now.getTime()), request.params.userId, request.body.text, now]);
    return reply.code(201).send(row);
  });
});
