import type { FastifySchemaCompiler } from 'fastify';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';

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
