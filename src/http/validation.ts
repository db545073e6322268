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

/** Deeper than any body or query Plaza takes; deeper input is refused before anything walks it. */
export const MAX_INPUT_DEPTH = 32;

/**
 * Refuses, for every route, input no handler should see: a NUL character (PostgreSQL text cannot
 * hold U+0000, so it would fail deep in a query) and nesting past `MAX_INPUT_DEPTH` (which would
 * overflow the stack of whatever recursed into it, JSON.stringify included). The walk keeps its own
 * stack, so no input shape can overflow it.
 */
export async function rejectUnsafeInput(request: FastifyRequest): Promise<void> {
  for (const [part, value] of [
    ['params', request.params],
    ['query', request.query],
    ['body', request.body],
  ] as const) {
    const problem = findUnsafe(value);
    if (problem === undefined) continue;
    const path = problem.path === '' ? '/' : problem.path;
    if (problem.kind === 'nul') {
      throw errors.invalidRequest(`The ${part} contains a NUL character`, [{ path, message: 'must not contain NUL characters' }]);
    }
    throw errors.invalidRequest(`The ${part} is nested more than ${MAX_INPUT_DEPTH} levels deep`, [
      { path, message: `must not be nested more than ${MAX_INPUT_DEPTH} levels deep` },
    ]);
  }
}

type Unsafe = { kind: 'nul' | 'depth'; path: string };

function findUnsafe(input: unknown): Unsafe | undefined {
  const pending: { value: unknown; key: string; path: string; depth: number }[] = [{ value: input, key: '', path: '', depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, key, path, depth } = next;
    if (key.includes('\0') || (typeof value === 'string' && value.includes('\0'))) return { kind: 'nul', path };
    if (!isPlainContainer(value)) continue;
    if (depth >= MAX_INPUT_DEPTH) return { kind: 'depth', path };
    // Pushed last to first, so the first problem in document order is the one reported.
    const entries = Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i -= 1) {
      const [itemKey, item] = entries[i] as [string, unknown];
      pending.push({ value: item, key: itemKey, path: `${path}/${itemKey}`, depth: depth + 1 });
    }
  }
  return undefined;
}

/** Parsed JSON, query strings and params; never the buffers or streams of raw uploads. */
function isPlainContainer(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  return typeof (value as { pipe?: unknown }).pipe !== 'function';
}
