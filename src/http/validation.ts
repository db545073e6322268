import type { FastifyReply, FastifyRequest, FastifySchemaCompiler, HookHandlerDoneFunction } from 'fastify';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { type AppError, errors, type FieldError } from './errors.ts';

/**
 * Bodies are validated strictly: a number is not silently turned into a string, and unknown fields
 * are refused rather than dropped, so a client's typo is an answer, not a mystery. Query strings,
 * params and headers arrive as text, so those are coerced.
 */
export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  // `verbose` puts the failing schema beside each error, so its message can name what is allowed.
  // Checking each schema against JSON Schema's own took a tenth of every start-up; they are Plaza's
  // own, TypeBox-made, and compiled (so tried) by the tests, which call every route.
  const common = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false, verbose: true, validateSchema: false } as const;
  const body = addFormats.default(new Ajv({ ...common, coerceTypes: false }));
  const text = addFormats.default(new Ajv({ ...common, coerceTypes: 'array' }));
  return ({ schema, httpPart }) => compiledOnFirstUse(httpPart === 'body' ? body : text, schema as object);
}

/**
 * Compiling all the routes' schemas took a tenth of a restart, and a process serves some routes
 * only: each is compiled when first used instead. Fastify reads a refusal's `errors` from the
 * function it was given, so they are handed on.
 */
function compiledOnFirstUse(ajv: Ajv, schema: object): ValidateFunction {
  let compiled: ValidateFunction | undefined;
  const validate = ((data: unknown) => {
    compiled ??= ajv.compile(schema);
    const valid = compiled(data);
    validate.errors = compiled.errors;
    return valid;
  }) as ValidateFunction;
  return validate;
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

/**
 * The longest path segment Plaza reads, in characters once percent-decoded (the router measures
 * route parameters the same way). Every id, handle and upload id is far shorter, and so is any file
 * name a file system keeps (255 bytes). A longer segment is `414 uri_too_long`.
 */
export const MAX_PATH_SEGMENT_LENGTH = 1024;

/**
 * An onRequest hook refusing a path with a segment over `MAX_PATH_SEGMENT_LENGTH`, on any route or
 * none: the router refuses an over-long parameter of a known route itself, with the same answer.
 */
export function refuseLongPathSegments(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  done(longPathSegmentError(request.url));
}

/** The `414` for a URL with an over-long path segment, or undefined when every segment fits. */
export function longPathSegmentError(url: string): AppError | undefined {
  // Every request passes here: a URL no longer than a segment may be has none too long.
  if (url.length <= MAX_PATH_SEGMENT_LENGTH) return undefined;
  const segments = (url.split('?', 1)[0] ?? '').split('/');
  const index = segments.findIndex((segment) => decodedLength(segment) > MAX_PATH_SEGMENT_LENGTH);
  if (index === -1) return undefined;
  const before = segments.slice(0, index).join('/');
  const shown = before.length > 100 ? `${before.slice(0, 100)}…` : before;
  return errors.uriTooLong(
    `The path segment after "${shown}/" is ${decodedLength(segments[index] ?? '')} characters long; ` +
      `Plaza reads at most ${MAX_PATH_SEGMENT_LENGTH} characters in one segment`,
  );
}

function decodedLength(segment: string): number {
  if (segment.length <= MAX_PATH_SEGMENT_LENGTH) return segment.length;
  try {
    return decodeURIComponent(segment).length;
  } catch {
    return segment.length;
  }
}

/** One error as ajv reports it, with the schema that failed (`verbose`). */
type SchemaIssue = {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message?: string;
  parentSchema?: Record<string, unknown>;
};

/** How a field of each validated part of a request (Fastify's names) is called; a body's go by JSON pointer. */
const FIELD_LABELS: Record<string, string> = { querystring: 'Query parameter', params: 'Path parameter', headers: 'Header' };

export const JSON_BODY_REQUIRED = 'This route takes a JSON object as its body: send one with Content-Type: application/json';

/**
 * The `400` for input its schema refused, worded for a person: each field with what it must be
 * (an enum's allowed values, a length's limit, the accepted fields), said once.
 */
export function invalidInput(part: string | undefined, issues: readonly SchemaIssue[], body: unknown): AppError {
  if (part === 'body' && issues.some((issue) => issue.instancePath === '' && issue.keyword === 'type')) {
    if (body === undefined || body === null) return errors.invalidRequest(JSON_BODY_REQUIRED, [{ path: '/', message: 'is required: a JSON object' }]);
    return errors.invalidRequest(`The body must be a JSON object, not ${describeValue(body)}`, [{ path: '/', message: 'must be a JSON object' }]);
  }
  const fieldErrors = fieldErrorsOf(issues);
  const label = FIELD_LABELS[part ?? ''];
  const detail =
    label === undefined
      ? `The body is not valid: ${fieldErrors.map(({ path, message }) => `${path} ${message}`).join('; ')}`
      : fieldErrors.map(({ path, message }) => `${label} "${path.slice(1)}" ${message}`).join('; ');
  return errors.invalidRequest(detail, fieldErrors);
}

function fieldErrorsOf(issues: readonly SchemaIssue[]): FieldError[] {
  // A union's branches each report why they failed, then the union itself: one message says it all.
  const unions = issues.filter((issue) => issue.keyword === 'anyOf' || issue.keyword === 'oneOf');
  const branchOfUnion = (issue: SchemaIssue) => unions.some((union) => issue.schemaPath.startsWith(`${union.schemaPath}/`));
  const seen = new Set<string>();
  const fieldErrors: FieldError[] = [];
  for (const issue of issues) {
    if (branchOfUnion(issue)) continue;
    const fieldError = fieldErrorOf(issue, issues);
    const key = `${fieldError.path}\0${fieldError.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    fieldErrors.push(fieldError);
  }
  return fieldErrors;
}

function fieldErrorOf(issue: SchemaIssue, all: readonly SchemaIssue[]): FieldError {
  const { params, parentSchema } = issue;
  const base = issue.instancePath;
  if (issue.keyword === 'required') return { path: `${base}/${String(params.missingProperty)}`, message: 'is required' };
  if (issue.keyword === 'additionalProperties') {
    const accepted = Object.keys((parentSchema?.properties as object | undefined) ?? {});
    const list = accepted.length === 0 ? 'none are' : `accepted: ${accepted.join(', ')}`;
    return { path: `${base}/${String(params.additionalProperty)}`, message: `is not accepted (${list})` };
  }
  return { path: base === '' ? '/' : base, message: messageOf(issue, all) };
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'an array',
  null: 'null',
};

const FORMAT_NAMES: Record<string, string> = {
  email: 'an email address',
  'date-time': 'a date and time (ISO 8601, e.g. 2025-01-31T12:00:00Z)',
};

const COMPARISONS: Record<string, string> = { '>=': 'at least', '>': 'greater than', '<=': 'at most', '<': 'less than' };

function messageOf(issue: SchemaIssue, all: readonly SchemaIssue[]): string {
  const { params, parentSchema } = issue;
  switch (issue.keyword) {
    case 'anyOf':
    case 'oneOf':
      return unionMessage(issue, all);
    case 'type':
      return `must be ${typeNames(params.type)}`;
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case 'enum':
      return `must be one of: ${(params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(', ')}`;
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} characters`;
    case 'maxLength':
      return `must have at most ${String(params.limit)} characters`;
    case 'minItems':
      return `must have at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`;
    case 'maxItems':
      return `must have at most ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`;
    case 'uniqueItems': {
      const [first, second] = [Number(params.i), Number(params.j)].sort((a, b) => a - b);
      return `must not list an item twice (${issue.instancePath}/${first} and ${issue.instancePath}/${second} are the same)`;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${COMPARISONS[String(params.comparison)] ?? String(params.comparison)} ${String(params.limit)}`;
    case 'multipleOf':
      return `must be a multiple of ${String(params.multipleOf)}`;
    case 'pattern': {
      const description = typeof parentSchema?.description === 'string' ? ` (${lowerFirst(parentSchema.description)})` : '';
      return `must match the pattern ${String(params.pattern)}${description}`;
    }
    case 'format':
      return `must be ${FORMAT_NAMES[String(params.format)] ?? `in the ${String(params.format)} format`}`;
    default:
      return issue.message ?? 'is not valid';
  }
}

/** A union of constants (a TypeBox Union of Literals) names its values; a union of types its types. */
function unionMessage(union: SchemaIssue, all: readonly SchemaIssue[]): string {
  const branches = (union.parentSchema?.[union.keyword] as Record<string, unknown>[] | undefined) ?? [];
  const values = branches.flatMap((branch) => ('const' in branch ? [branch.const] : Array.isArray(branch.enum) ? branch.enum : [undefined]));
  if (branches.length > 0 && !values.includes(undefined)) {
    return `must be one of: ${values.map((value) => JSON.stringify(value)).join(', ')}`;
  }
  const reasons = all.filter((issue) => issue !== union && issue.schemaPath.startsWith(`${union.schemaPath}/`));
  if (reasons.length > 0 && reasons.every((issue) => issue.keyword === 'type')) {
    return `must be ${typeNames(reasons.map((issue) => issue.params.type).join(','))}`;
  }
  const distinct = [...new Set(reasons.map((issue) => messageOf(issue, all)))];
  return distinct.length === 0 ? 'does not match any allowed form' : `does not match any allowed form: ${distinct.join(', or ')}`;
}

function typeNames(type: unknown): string {
  const names = [...new Set(String(type).split(','))].map((name) => TYPE_NAMES[name] ?? name);
  return names.length <= 1 ? (names[0] ?? 'valid') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'boolean' ? String(value) : (TYPE_NAMES[typeof value] ?? typeof value);
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? `${text.charAt(0).toLowerCase()}${text.slice(1)}` : text;
}
