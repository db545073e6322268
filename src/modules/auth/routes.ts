import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { callerOf } from '#http/auth.ts';
import { problemResponses } from '#http/openapi.ts';
import { Account, DisplayName, Handle } from '../accounts/schemas.ts';
import { FRESH_SIGN_IN_SECONDS, type AuthService } from './service.ts';

const Email = Type.String({ format: 'email', maxLength: 254 });
const Password = Type.String({ minLength: 8, maxLength: 256 });
const RefreshToken = Type.String({ minLength: 1, maxLength: 512 });
/** How old a session's sign-in may be to confirm an account without a password, as the descriptions say it. */
const FRESH = `under ${FRESH_SIGN_IN_SECONDS / 60} minutes old`;
const ReconfirmingPassword = Type.String({
  maxLength: 256,
  description: `Required when the account has a password; absent for one without, which a session whose sign-in is ${FRESH} confirms instead`,
});

export const Session = Type.Object(
  {
    user: Account,
    accessToken: Type.String(),
    refreshToken: Type.String(),
    expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
  },
  { title: 'Session' },
);

const strict = { additionalProperties: false } as const;

export function authRoutes(deps: { auth: AuthService; requireCaller: onRequestAsyncHookHandler }): FastifyPluginAsync {
  const { auth, requireCaller } = deps;
  return async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
    // Checked on onRequest, before the body is read or validated: no valid token, 401 whatever was sent.
    const signedIn = { onRequest: requireCaller, schema: { tags: ['account'], security: [{ bearer: [] }] } } as const;

    app.post(
      '/v1/auth/signup',
      {
        schema: {
          tags: ['auth'],
          summary: 'Create a password account and sign in',
          body: Type.Object(
            { email: Email, password: Password, name: DisplayName, handle: Type.Optional(Handle) },
            strict,
          ),
          response: { 201: Session, ...problemResponses(409, 429) },
        },
      },
      async (request, reply) => reply.code(201).send(await auth.signup(request.body, request.ip)),
    );

    app.post(
      '/v1/auth/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Sign in with email and password',
          body: Type.Object({ email: Type.String({ maxLength: 254 }), password: Type.String({ maxLength: 256 }) }, strict),
          response: { 200: Session, ...problemResponses(401, 429) },
        },
      },
      async (request) => auth.login(request.body.email, request.body.password, request.ip),
    );

    app.post(
      '/v1/auth/refresh',
      {
        schema: {
          tags: ['auth'],
          summary: 'Trade a refresh token for a new token pair',
          body: Type.Object({ refreshToken: RefreshToken }, strict),
          response: { 200: Session, ...problemResponses(401) },
        },
      },
      async (request) => auth.refresh(request.body.refreshToken),
    );

    app.post(
      '/v1/auth/logout',
      {
        schema: {
          tags: ['auth'],
          summary: 'End the session a refresh token belongs to',
          body: Type.Object({ refreshToken: RefreshToken }, strict),
          response: { 204: Type.Null() },
        },
      },
      async (request, reply) => {
        await auth.logout(request.body.refreshToken);
        return reply.code(204).send(null);
      },
    );

    // Account actions that need the password again live here, beside the sessions they end.
    app.put(
      '/v1/account/password',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Change the password (or set the first one of a social-only account); every other session is signed out',
          description:
            `An account without a password (made by a social sign-in) sends \`newPassword\` alone, from a session whose sign-in is ${FRESH} (else \`403 reauthentication_required\`); it needs an email to log in with (else \`409 email_required\`).`,
          body: Type.Object({ currentPassword: Type.Optional(ReconfirmingPassword), newPassword: Password }, strict),
          response: { 204: Type.Null(), ...problemResponses(403, 409, 429) },
        },
      },
      async (request, reply) => {
        await auth.changePassword(callerOf(request), request.body.currentPassword, request.body.newPassword);
        return reply.code(204).send(null);
      },
    );

    app.delete(
      '/v1/account',
      {
        ...signedIn,
        schema: {
          ...signedIn.schema,
          summary: 'Delete your account and everything it owns',
          description:
            `An account without a password (made by a social sign-in) sends no body, or \`{}\`, from a session whose sign-in is ${FRESH} (else \`403 reauthentication_required\`).`,
          // An account without a password may send no body (validated as null) or `{}`.
          body: Type.Union([Type.Object({ password: Type.Optional(ReconfirmingPassword) }, strict), Type.Null()], { title: 'AccountDeletion' }),
          response: { 204: Type.Null(), ...problemResponses(403, 429) },
        },
      },
      async (request, reply) => {
        await auth.deleteAccount(callerOf(request), request.body?.password);
        return reply.code(204).send(null);
      },
    );
  };
}
