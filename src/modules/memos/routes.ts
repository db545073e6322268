import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { Page, PageQuery } from '#http/pagination.ts';
import { Memo, MemoText } from './schemas.ts';
import type { MemosService } from './service.ts';

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const MemoBody = Type.Object({ text: MemoText }, { additionalProperties: false });
const MemoListQuery = Type.Object(
  { ...PageQuery.properties, q: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);

export function memoRoutes(deps: { memos: MemosService; requireCaller: onRequestAsyncHookHandler }): FastifyPluginAsync {
  const { memos, requireCaller } = deps;
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // The token is checked on onRequest, before the body is read or validated: without a valid one, 401 whatever was sent.
    const signedIn = { onRequest: requireCaller, schema: { tags: ['memos'], security: [{ bearer: [] }] } } as const;

    app.post(
      '/v1/memos',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Write a memo', body: MemoBody, response: { 201: Memo } } },
      async (request, reply) => reply.code(201).send(await memos.create(callerOf(request).userId, request.body.text)),
    );

    app.get(
      '/v1/memos',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Your memos, newest first; `q` searches their text, ignoring case',
          querystring: MemoListQuery,
          response: { 200: Page(Memo) },
        },
      },
      async (request) => memos.list(callerOf(request).userId, request.query),
    );

    app.get(
      '/v1/memos/:id',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'One memo', params: IdParams, response: { 200: Memo } } },
      async (request) => memos.get(callerOf(request).userId, request.params.id),
    );

    app.patch(
      '/v1/memos/:id',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Rewrite a memo', params: IdParams, body: MemoBody, response: { 200: Memo } } },
      async (request) => memos.update(callerOf(request).userId, request.params.id, request.body.text),
    );

    app.delete(
      '/v1/memos/:id',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Delete a memo', params: IdParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        await memos.remove(callerOf(request).userId, request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
