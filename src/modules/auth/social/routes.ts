import { STATUS_CODES } from 'node:http';
import type { FastifyPluginAsync, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { parseCookie, stringifySetCookie } from 'cookie';
import { callerOf, type Caller, type VerifyAccessToken } from '#http/auth.ts';
import { problemResponses } from '#http/openapi.ts';
import { Account } from '../../accounts/schemas.ts';
import { Session } from '../routes.ts';
import type { SocialSignInService } from './service.ts';
import type { WebSignIn, WebSignInReturn } from './web-flow.ts';

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

/** The cookie that binds a web sign-in's state to the browser that started it. */
const BROWSER_COOKIE = 'plaza_oauth_browser';
/** As long as a state lives: the cookie is only needed until the callback. */
const BROWSER_COOKIE_MAX_AGE_SECONDS = 600;

const ProviderParams = Type.Object({ provider: ProviderId });
const redirected = (status: 302 | 303, description: string) => ({ [status]: { description, type: 'null' } });
const TO_REDIRECT_URI = 'To redirect_uri, its fragment the session (`accessToken`, `refreshToken`, `expiresIn`, `created`, `user` as JSON), `linked=<provider>`, or `error=<code>`';
/** What a provider sends back: the code and state, or an error (providers add fields of their own: not refused). */
const CallbackFields = Type.Object(
  {
    code: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    state: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    error: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    user: Type.Optional(Type.String({ maxLength: 4096, description: "Apple's first sign-in only: the user's name, as JSON" })),
  },
  { title: 'OAuthCallback' },
);

/**
 * The web sign-in's two ends. Its cookie is `SameSite=None` (so `Secure`) when PUBLIC_URL is https:
 * Apple comes back with a cross-site POST, which a Lax cookie would miss; it grants nothing by
 * itself, only says which browser may finish a sign-in.
 */
export function webSignInRoutes(deps: {
  webSignIn: WebSignIn;
  requireCaller: onRequestAsyncHookHandler;
  /** For link=true's `access_token` query parameter (a bearer header goes through `requireCaller`). */
  authenticate: VerifyAccessToken;
  /** PUBLIC_URL is https. */
  secureCookie: boolean;
}): FastifyPluginAsync {
  const { webSignIn, requireCaller, authenticate } = deps;
  const browserOf = (cookieHeader: string | undefined) => (cookieHeader === undefined ? undefined : parseCookie(cookieHeader)[BROWSER_COOKIE]);
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // Apple's form_post; only this plugin's routes take forms.
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16_384 }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    app.get(
      '/v1/auth/oauth/:provider/authorize',
      {
        schema: {
          tags: ['auth'],
          summary: "Start a web sign-in: to the provider's sign-in page, and back to redirect_uri with the session in the fragment",
          // A bearer token only with link=true.
          security: [{}, { bearer: [] }],
          params: ProviderParams,
          querystring: Type.Object(
            {
              redirect_uri: Type.String({ minLength: 1, maxLength: 2048, description: 'Where the session goes: must start with a prefix of AUTH_REDIRECT_ALLOWLIST' }),
              link: Type.Optional(Type.Boolean({ description: "Link the provider to the caller's account instead (needs the caller's access token)" })),
              access_token: Type.Optional(
                Type.String({ minLength: 1, maxLength: 4096, description: 'With link=true, for a browser that cannot send Authorization' }),
              ),
            },
            strict,
          ),
          response: {
            ...redirected(302, "To the provider's sign-in page (or, when it cannot be reached, redirect_uri with #error=provider_unavailable)"),
            ...problemResponses(429),
          },
        },
      },
      async (request, reply) => {
        let linkTo: Caller | undefined;
        if (request.query.link === true) {
          const token = request.query.access_token;
          if (token !== undefined && request.headers.authorization === undefined) linkTo = await authenticate(token);
          else {
            await requireCaller.call(plugin, request, reply);
            linkTo = callerOf(request);
          }
        }
        const start = await webSignIn.start(request.params.provider, {
          redirectUri: request.query.redirect_uri,
          linkTo,
          browser: browserOf(request.headers.cookie),
          ip: request.ip,
        });
        const cookie = stringifySetCookie({
          name: BROWSER_COOKIE,
          value: start.browser,
          httpOnly: true,
          secure: deps.secureCookie,
          sameSite: deps.secureCookie ? 'none' : 'lax',
          path: '/v1/auth/oauth/',
          maxAge: BROWSER_COOKIE_MAX_AGE_SECONDS,
        });
        return reply.header('set-cookie', cookie).header('cache-control', 'no-store').redirect(start.location, 302);
      },
    );

    /** What came back, without the fields of a provider's own that Plaza does not read (`iss`, `scope`, …). */
    const returned = (fields: Static<typeof CallbackFields>, request: FastifyRequest): WebSignInReturn => ({
      code: fields.code,
      state: fields.state,
      error: fields.error,
      user: fields.user,
      browser: browserOf(request.headers.cookie),
      ip: request.ip,
    });
    const callbackSchema = { tags: ['auth'], params: ProviderParams };

    app.get(
      '/v1/auth/oauth/:provider/callback',
      {
        schema: {
          ...callbackSchema,
          summary: 'Where the provider sends the browser back (a state unknown, used, expired or from another browser: 400)',
          querystring: CallbackFields,
          response: redirected(302, TO_REDIRECT_URI),
        },
      },
      async (request, reply) => {
        const location = await webSignIn.finish(request.params.provider, returned(request.query, request));
        return reply.header('cache-control', 'no-store').redirect(location, 302);
      },
    );

    app.post(
      '/v1/auth/oauth/:provider/callback',
      {
        schema: {
          ...callbackSchema,
          summary: "Where Apple posts the browser back (response_mode=form_post), with the user's name the first time",
          consumes: ['application/x-www-form-urlencoded'],
          body: CallbackFields,
          response: redirected(303, TO_REDIRECT_URI),
        },
      },
      async (request, reply) => {
        const location = await webSignIn.finish(request.params.provider, returned(request.body, request));
        // 303: the app's page is fetched with GET, whatever the provider posted.
        return reply.header('cache-control', 'no-store').redirect(location, 303);
      },
    );
  };
}
