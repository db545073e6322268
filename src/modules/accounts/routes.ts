import type { FastifyPluginAsync, preHandlerAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { Account, Bio, DisplayName, Handle } from './schemas.ts';
import type { AccountsService } from './service.ts';

export function accountRoutes(deps: {
  accounts: AccountsService;
  requireCaller: preHandlerAsyncHookHandler;
}): FastifyPluginAsync {
  const { accounts, requireCaller } = deps;
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const signedIn = { preHandler: requireCaller } as const;
    const bearer = [{ bearer: [] }];

    app.get(
      '/v1/account',
      { ...signedIn, schema: { tags: ['account'], summary: 'Your account', security: bearer, response: { 200: Account } } },
      async (request) => accounts.getAccount(callerOf(request).userId),
    );

    app.patch(
      '/v1/account',
      {
        ...signedIn,
        schema: {
          tags: ['account'],
          summary: 'Edit your profile',
          security: bearer,
          body: Type.Object(
            { name: Type.Optional(DisplayName), bio: Type.Optional(Bio), handle: Type.Optional(Handle) },
            { additionalProperties: false },
          ),
          response: { 200: Account },
        },
      },
      async (request) => accounts.updateProfile(callerOf(request).userId, request.body),
    );
  };
}
