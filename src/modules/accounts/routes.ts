import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { problemResponses } from '#http/openapi.ts';
import { Account, Bio, DisplayName, Handle } from './schemas.ts';
import type { AccountsService } from './service.ts';

export function accountRoutes(deps: {
  accounts: AccountsService;
  requireCaller: onRequestAsyncHookHandler;
}): FastifyPluginAsync {
  const { accounts, requireCaller } = deps;
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // Checked on onRequest, before the body is read or validated: no valid token, 401 whatever was sent.
    const signedIn = { onRequest: requireCaller, schema: { tags: ['account'], security: [{ bearer: [] }] } } as const;

    app.get(
      '/v1/account',
      { ...signedIn, schema: { ...signedIn.schema, summary: 'Your account', response: { 200: Account } } },
      async (request) => accounts.getAccount(callerOf(request).userId),
    );

    app.patch(
      '/v1/account',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Edit your profile',
          body: Type.Object(
            { name: Type.Optional(DisplayName), bio: Type.Optional(Bio), handle: Type.Optional(Handle) },
            { additionalProperties: false },
          ),
          response: { 200: Account, ...problemResponses(409) },
        },
      },
      async (request) => accounts.updateProfile(callerOf(request).userId, request.body),
    );
  };
}
