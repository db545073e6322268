/**
 * The floor for the media suite's uploads and ranged reads: a bare node:http server, no framework,
 * auth, database, sniffing or logging.
 *
 * - `POST /upload` streams the request body into a new file under DATA_DIR/bench-baseline/uploads/ (the
 *   filesystem Plaza stores media on) and, like Plaza's local blob store, flushes it to the disk
 *   before answering 202.
 * - `GET /file` serves BENCH_MEDIA_FILE, honouring one `Range` (206), as a static file server does.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import parseRange from 'range-parser';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

const uploadDir = join(required('DATA_DIR'), 'bench-baseline', 'uploads');
const servedFile = process.env.BENCH_MEDIA_FILE;

async function upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const file = createWriteStream(join(uploadDir, randomUUID()), { flags: 'wx', flush: true });
  await pipeline(req, file);
  res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ size: file.bytesWritten }));
}

async function serveFile(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (servedFile === undefined) {
    res.writeHead(404).end();
    return;
  }
  const { size } = await stat(servedFile);
  const headers = { 'content-type': 'audio/wav', 'accept-ranges': 'bytes' };
  const ranges = req.headers.range === undefined ? undefined : parseRange(size, req.headers.range);
  if (ranges === undefined || ranges === -2) {
    res.writeHead(200, { ...headers, 'content-length': size });
    await pipeline(createReadStream(servedFile), res);
    return;
  }
  if (ranges === -1 || ranges.length !== 1) {
    res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
    return;
  }
  const { start, end } = ranges[0]!;
  res.writeHead(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` });
  await pipeline(createReadStream(servedFile, { start, end }), res);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = req.url?.split('?')[0];
  if (req.method === 'GET' && path === '/readyz') res.writeHead(200).end('ok');
  else if (req.method === 'POST' && path === '/upload') await upload(req, res);
  else if (req.method === 'GET' && path === '/file') await serveFile(req, res);
  else res.writeHead(404).end();
}

async function main(): Promise<void> {
  await mkdir(uploadDir, { recursive: true });
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A load generator closes its connections mid-answer when its time is up: nothing to report.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ERR_STREAM_PREMATURE_CLOSE' && code !== 'ERR_STREAM_UNABLE_TO_PIPE') console.error(error);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  process.once('SIGTERM', () => {
    server.close();
    server.closeIdleConnections();
  });
  server.listen(Number(required('PORT')), '127.0.0.1');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
