/**
 * The stream suite's baseline: a bare SSE broadcast server on node:http. `GET /stream` keeps the
 * response open; `POST /publish` writes one `event: post` frame (with an id and the same small
 * JSON data Plaza sends) to every open response and answers 201. No auth, no backlog, no pub/sub.
 */
import { createServer, type ServerResponse } from 'node:http';

const clients = new Set<ServerResponse>();
let sequence = 0;

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/readyz') return void response.end('ok');
  if (request.method === 'GET' && request.url === '/stream') {
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    response.write('retry: 3000\n\n');
    clients.add(response);
    response.on('close', () => clients.delete(response));
    return;
  }
  if (request.method === 'POST' && request.url?.startsWith('/publish?id=')) {
    const id = new URL(request.url, 'http://localhost').searchParams.get('id') ?? '';
    sequence += 1;
    const frame = `id: ${Date.now()}-${sequence}\nevent: post\ndata: ${JSON.stringify({ id, authorId: 'baseline' })}\n\n`;
    for (const client of clients) client.write(frame);
    response.writeHead(201).end();
    return;
  }
  response.writeHead(404).end();
});
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => {
  for (const client of clients) client.destroy();
  server.close();
});
