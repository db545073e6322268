import { STATUS_CODES } from 'node:http';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { problemResponses } from '#http/openapi.ts';
import { Account } from '../../accounts/schemas.ts';
import { Session } from '../routes.ts';
import type { SocialSignInService } from './service.ts';

const ProviderId = Type.String({ minLength: 1, maxLength: 32, description: 'An `id` from GET /v1/auth/providers' });
const ProviderToken = Type.String({
  minLength: 1,
  maxLength: 16_384,
  description:
    "The token the provider's native sign-in SDK returned: its ID token, or for Naver, Facebook, GitHub (and Kakao without OpenID Connect) its access token",
});
const Nonce = Type.String({
  minLength: 1,
  maxLength: 512,
  description:
    "The nonce the app passed to the provider's sign-in (for Apple: the raw one, whose SHA-256 it passed); checked against the ID token's (access tokens carry none)",
});

/** The provider could not be asked (down, slow, or answering wrongly): documented beside the client errors. */
const providerUnavailable = {
  502: { description: STATUS_CODES[502], content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } },
};

const strict = { additionalProperties: false } as const;

export function socialSignInRoutes(deps: { socialSignIn: SocialSignInService; requireCaller: onRequestAsyncHookHandler }): FastifyPluginAsync {
  const { socialSignIn, requireCaller } = deps;
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // Checked on onRequest, before the body is read or validated: no valid token, 401 whatever was sent.
    const signedIn = { onRequest: requireCaller, schema: { tags: ['account'], security: [{ bearer: [] }] } } as const;

    app.get(
      '/v1/auth/providers',
      {
        schema: {
          tags: ['auth'],
          summary: 'The social sign-in providers configured on this server',
          response: {
            200: Type.Object({ providers: Type.Array(Type.Object({ id: Type.String(), name: Type.String() })) }),
          },
        },
      },
      async () => ({ providers: socialSignIn.list() }),
    );

    app.post(
      '/v1/auth/social',
      {
        schema: {
          tags: ['auth'],
          summary: 'Sign in (or up, the first time) with a token a native app got from a social provider',
          body: Type.Object({ provider: ProviderId, token: ProviderToken, nonce: Type.Optional(Nonce) }, strict),
          response: {
            200: Type.Object({ ...Session.properties, created: Type.Boolean({ description: 'Whether this sign-in made the account' }) }, { title: 'SocialSession' }),
            ...problemResponses(409, 429),
            ...providerUnavailable,
          },
        },
      },
      async (request) => socialSignIn.signIn(request.body.provider, request.body.token, request.body.nonce, request.ip),
    );

    app.post(
      '/v1/account/identities/:provider',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Link a social provider to your account, proven by a fresh token from it',
          params: Type.Object({ provider: ProviderId }),
          body: Type.Object({ token: ProviderToken, nonce: Type.Optional(Nonce) }, strict),
          response: { 200: Account, ...problemResponses(409), ...providerUnavailable },
        },
      },
      async (request) => socialSignIn.link(callerOf(request), request.params.provider, request.body.token, request.body.nonce),
    );

    app.delete(
      '/v1/account/identities/:provider',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Unlink a social provider, unless it is the last way to sign in',
          params: Type.Object({ provider: ProviderId }),
          response: { 204: Type.Null(), ...problemResponses(409) },
        },
      },
      async (request, reply) => {
        await socialSignIn.unlink(callerOf(request), request.params.provider);
        return reply.code(204).send(null);
      },
    );
  };
}
