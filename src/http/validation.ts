import type { FastifyRequest, FastifySchemaCompiler } from 'fastify';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { errors } from './errors.ts';

/**
 * Bodies are validated strictly: a number is not silently turned into a string, and unknown fields
 * are refused rather than dropped, so a client's typo is an answer, not a mystery. Query strings,
 * params and headers arrive as text, so those are coerced.
 */
export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const common = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false } as const;
  const body = addFormats.default(new Ajv({ ...common, coerceTypes: false }));
  const text = addFormats.default(new Ajv({ ...common, coerceTypes: 'array' }));
  return ({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema as object);
}

/**
 * PostgreSQL text cannot hold U+0000, so a NUL anywhere in the input would fail deep in a query.
 * Refuse it up front, for every route, with the path where it was found.
 */
export async function rejectNulCharacters(request: FastifyRequest): Promise<void> {
  for (const [part, value] of [
    ['params', request.params],
    ['query', request.query],
    ['body', request.body],
  ] as const) {
    const path = findNul(value, '');
    if (path !== undefined) {
      throw errors.invalidRequest(`The ${part} contains a NUL character`, [
        { path: path === '' ? '/' : path, message: 'must not contain NUL characters' },
      ]);
    }
  }
}

function findNul(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path : undefined;
  if (!isPlainContainer(value)) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = key.includes('\0') ? `${path}/${key}` : findNul(item, `${path}/${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Parsed JSON, query strings and params; never the buffers or streams of raw uploads. */
function isPlainContainer(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  return typeof (value as { pipe?: unknown }).pipe !== 'function';
}
