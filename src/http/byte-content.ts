import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { create as contentDisposition } from 'content-disposition';
import parseRange from 'range-parser';
import { AppError } from './errors.ts';

/** Stored bytes that never change once written, ready to be served whole or by range. */
export type ByteContent = {
  contentType: string;
  size: number;
  /** A strong validator: the same bytes always have the same ETag. */
  etag: string;
  fileName: string;
  open(range?: { start: number; end: number }): Promise<Readable>;
  /** Where the storage backend serves the same bytes itself; when present, the answer redirects there. */
  directLink?: (headers: { contentType: string; contentDisposition: string }) => Promise<string>;
};

/**
 * Answers with `content`: a `302` to the storage backend when it serves the bytes itself, `304` when the client has it, `206` for one satisfiable range, `416` for an
 * unsatisfiable one, `200` otherwise (a malformed or multi-part Range is ignored, as RFC 9110 allows).
 * The bytes are never sniffed by the browser nor shown as a page of this origin. A `HEAD` gets the same
 * headers without a byte being read: signed links need no token, so a tiny request must not cost a
 * whole file's read (and, on S3, its egress).
 */
export async function sendByteContent(
  request: FastifyRequest,
  reply: FastifyReply,
  content: ByteContent,
  cacheControl: string,
): Promise<FastifyReply> {
  const disposition = contentDisposition(content.fileName, { type: 'inline' });
  if (content.directLink !== undefined) {
    const location = await content.directLink({ contentType: content.contentType, contentDisposition: disposition });
    return reply.header('cache-control', 'private, no-store').redirect(location, 302);
  }
  reply
    .header('etag', content.etag)
    .header('accept-ranges', 'bytes')
    .header('cache-control', cacheControl)
    .header('content-disposition', disposition)
    .header('x-content-type-options', 'nosniff')
    // Signed links are meant for <img>, <audio> and <video> on the app's own origin.
    .header('cross-origin-resource-policy', 'cross-origin');
  if (matchesIfNoneMatch(request.headers['if-none-match'], content.etag)) return reply.code(304).send();

  const range = rangeOf(request.headers.range, content.size);
  if (range === 'unsatisfiable') {
    throw new AppError(416, 'range_not_satisfiable', `The file has ${content.size} bytes`, {
      headers: { 'content-range': `bytes */${content.size}` },
    });
  }
  // Fastify answers a HEAD by reading the stream it is given to its end; an empty one keeps the
  // Content-Length set here (an empty string or no body would reset it to 0).
  const body = request.method === 'HEAD' ? Readable.from([]) : await content.open(range);
  reply.header('content-type', content.contentType);
  if (range === undefined) return reply.header('content-length', content.size).send(body);
  return reply
    .code(206)
    .header('content-range', `bytes ${range.start}-${range.end}/${content.size}`)
    .header('content-length', range.end - range.start + 1)
    .send(body);
}

function rangeOf(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  // RFC 9110 §14.1.2: a suffix longer than the file selects all of it (range-parser says unsatisfiable).
  const suffix = /^bytes=-(\d+)$/.exec(header.trim());
  if (suffix !== null && Number(suffix[1]) >= size && Number(suffix[1]) > 0) return { start: 0, end: size - 1 };
  const ranges = parseRange(size, header, { combine: true });
  if (ranges === -1) return 'unsatisfiable';
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return undefined;
  return ranges[0];
}

/** Whether an `If-None-Match` header lists `etag` or is `*` (compared weakly, as RFC 9110 says for this header). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.trim() === '*' || header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
