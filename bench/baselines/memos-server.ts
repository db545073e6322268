/**
 * The floor for the memos suite: a bare Fastify server running the same SQL as Plaza's memo routes
 * on the same database, with no auth, validation, schemas, hooks or logging. The user comes from the
 * path. It reads the same environment as Plaza to find the database.
 */
import { monotonicFactory } from 'ulid';
import { serveBareBaseline } from './bare-server.ts';

const COLUMNS = 'id, user_id, text, created_at, updated_at';
// Plaza asks for one row more than the page (21) to know whether another page follows; the one
// extra index entry is noise next to what is measured.
const SELECT_PAGE = `select ${COLUMNS} from memos where user_id = $1 order by id desc limit 20`;
const INSERT = `insert into memos (${COLUMNS}) values ($1, $2, $3, $4, $5) returning ${COLUMNS}`;

/** Plaza's ids are ULIDs too, so inserts land in the indexes the same way. */
const newId = monotonicFactory();

serveBareBaseline((app, database) => {
  app.get<{ Params: { userId: string } }>('/users/:userId/memos', async (request) => ({
    items: await database.query(SELECT_PAGE, [request.params.userId]),
  }));

  app.post<{ Params: { userId: string }; Body: { text: string } }>('/users/:userId/memos', async (request, reply) => {
    const now = new Date();
    const { userId } = request.params;
    const [row] = await database.query(INSERT, [newId(now.getTime()), userId, request.body.text, now, now]);
    return reply.code(201).send(row);
  });
});
