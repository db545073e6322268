import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '#platform/db/database.ts';
import type { EmitEvent, Outbox } from '#platform/outbox/types.ts';
import type { PubSub } from '#platform/pubsub/types.ts';
import { clientNetwork } from '#platform/ratelimit/keys.ts';
import type { RateLimiter } from '#platform/ratelimit/types.ts';
import type { Caller } from '#http/auth.ts';
import { errors } from '#http/errors.ts';
import { newId } from '#db/ids.ts';
import type { Config } from '../../config.ts';
import type { Account } from '../accounts/schemas.ts';
import type { AccountsService, NewPasswordAccount } from '../accounts/service.ts';
import type { MediaService } from '../media/service.ts';
import type { AccessCache } from './access-cache.ts';
import * as store from './store.ts';
import { hashRefreshToken, newRefreshToken, type AccessTokens } from './tokens.ts';

export type Session = { user: Account; accessToken: string; refreshToken: string; expiresIn: number };

/** Sessions that just ended: one, or a user's all (but `exceptSessionId`, when given). */
export type EndedSessions = { readonly sessionId: string } | { readonly userId: string; readonly exceptSessionId?: string };

/** The channel every instance hears ended sessions on. */
const SESSIONS_CHANNEL = 'sessions';

type AuthDeps = {
  db: Database;
  outbox: Pick<Outbox, 'transaction'>;
  accounts: AccountsService;
  /** Told, inside the deleting transaction, so the bytes the account stored go once it commits. */
  media: Pick<MediaService, 'forgetOwner'>;
  /**
   * Asked, inside the deleting transaction, to take the account off other users' counters; what
   * one resolves with runs once that commits.
   */
  counters: readonly { releaseUser(trx: Database, userId: string, emit: EmitEvent): Promise<(() => void) | void> }[];
  accessTokens: AccessTokens;
  accessCache: AccessCache;
  /** Where every instance hears that sessions ended (see `listenForEndedSessions`). */
  pubsub: Pick<PubSub, 'publish' | 'subscribe'>;
  /** Told on every instance once sessions have ended, to close what they hold open (live event streams). */
  sessionEnds: readonly ((ended: EndedSessions) => void)[];
  logger: Pick<FastifyBaseLogger, 'error'>;
  rateLimiter: RateLimiter;
  config: Pick<Config, 'refreshTokenTtlSeconds' | 'authRateLimit'>;
};

export type AuthService = ReturnType<typeof createAuthService>;

/**
 * How recent the sign-in behind a session must be to stand in for the password of an account that
 * has none (setting its first password, deleting it): the user re-confirms by signing in with their
 * provider again, and a token copied from an older session can do neither. Ten minutes covers
 * signing in and finishing the form; refreshing keeps a session's sign-in time, so it cannot renew it.
 */
export const FRESH_SIGN_IN_SECONDS = 10 * 60;

export function createAuthService(deps: AuthDeps) {
  const { db, outbox, accounts, media, counters, accessTokens, accessCache, rateLimiter, config } = deps;

  /** On this instance: its access cache forgets the sessions, and what they hold open closes. */
  // Every instance hears its own messages too; it has already ended those sessions itself.
  const self = randomUUID();
  const endedHere = (sessions: EndedSessions) => {
    if ('sessionId' in sessions) accessCache.forgetSession(sessions.sessionId);
    else accessCache.forgetUser(sessions.userId, sessions.exceptSessionId);
    for (const listener of deps.sessionEnds) listener(sessions);
  };

  /** Once sessions were revoked in the database: here at once, and on every other instance. */
  const ended = (sessions: EndedSessions) => {
    endedHere(sessions);
    deps.pubsub.publish([{ channel: SESSIONS_CHANNEL, message: JSON.stringify({ from: self, sessions }) }]).catch((error: unknown) => {
      deps.logger.error({ err: error }, 'auth: telling other instances of ended sessions failed; they refuse those sessions once their cached answers expire');
    });
  };

  async function revokeSession(sessionId: string, at: Date): Promise<void> {
    await store.revokeSession(db, sessionId, at);
    ended({ sessionId });
  }

  /** Opens a new session family for a user and hands out its first token pair. */
  async function openSession(trx: Database, userId: string): Promise<Omit<Session, 'user'>> {
    const now = new Date();
    const sessionId = newId(now.getTime());
    await store.insertSession(trx, { id: sessionId, user_id: userId, created_at: now });
    return issueTokens(trx, userId, sessionId, now);
  }

  async function issueTokens(trx: Database, userId: string, sessionId: string, now: Date) {
    const refresh = newRefreshToken();
    await store.insertRefreshToken(trx, {
      token_hash: refresh.hash,
      session_id: sessionId,
      created_at: now,
      expires_at: new Date(now.getTime() + config.refreshTokenTtlSeconds * 1000),
    });
    return {
      accessToken: await accessTokens.sign({ userId, sessionId }),
      refreshToken: refresh.token,
      expiresIn: accessTokens.ttlSeconds,
    };
  }

  /** Counts one attempt against a limit; refused with 429 past it. */
  async function enforceLimit(key: string, limit: number): Promise<void> {
    const decision = await rateLimiter.hit(key, limit, config.authRateLimit.windowSeconds);
    if (!decision.allowed) throw errors.rateLimited(decision.retryAfterSeconds);
  }

  /**
   * Checks the password a signed-in caller re-enters, a limited number of times per session: a
   * stolen access token must not guess freely, and counting per session rather than per user keeps
   * a thief from using up the owner's budget and so from blocking the password change that signs
   * the thief out.
   */
  async function confirmPassword(caller: Caller, password: string): Promise<void> {
    await enforceLimit(`reconfirm:session:${caller.sessionId}`, config.authRateLimit.reconfirmPerSession);
    if (!(await accounts.passwordMatches(caller.userId, password))) throw errors.wrongPassword();
  }

  /** `403 reauthentication_required` unless the caller's session began with a sign-in within FRESH_SIGN_IN_SECONDS. */
  async function confirmFreshSignIn(caller: Caller): Promise<void> {
    const startedAt = await store.sessionStartedAt(db, caller.sessionId);
    if (startedAt === undefined || Date.now() - startedAt.getTime() > FRESH_SIGN_IN_SECONDS * 1000) {
      throw errors.reauthenticationRequired(FRESH_SIGN_IN_SECONDS / 60);
    }
  }

  /**
   * Re-confirms a sensitive action: with the password (the body's `field`) for an account that has
   * one, else with a fresh sign-in, and then no password may be sent. Resolves with whether the
   * account has a password.
   */
  async function reconfirm(caller: Caller, password: string | undefined, field: 'currentPassword' | 'password'): Promise<boolean> {
    const hasPassword = await accounts.hasPassword(caller.userId);
    if (hasPassword && password === undefined) {
      throw errors.invalidRequest(`This account has a password: send it as ${field}`, [{ path: `/${field}`, message: 'is required: the account has a password' }]);
    }
    if (!hasPassword && password !== undefined) {
      throw errors.invalidRequest(`This account has no password: leave ${field} out (a sign-in with your provider in the last ${FRESH_SIGN_IN_SECONDS / 60} minutes confirms it)`, [
        { path: `/${field}`, message: 'must be absent: the account has no password' },
      ]);
    }
    if (password !== undefined) await confirmPassword(caller, password);
    else await confirmFreshSignIn(caller);
    return hasPassword;
  }

  return {
    /** Starts hearing the sessions other instances end, until the pub/sub closes (once, before requests). */
    async listenForEndedSessions(): Promise<void> {
      await deps.pubsub.subscribe(SESSIONS_CHANNEL, (message) => {
        const { from, sessions } = JSON.parse(message) as { from: string; sessions: EndedSessions };
        if (from !== self) endedHere(sessions);
      });
    },

    /** For the other ways of signing in (social's): a new session for a user, in the caller's transaction. */
    openSession,

    /** A sign-in attempt of another way (social's), counted against the address's budget as a login is. */
    async countSignInAttempt(ip: string): Promise<void> {
      await enforceLimit(`login:ip:${clientNetwork(ip)}`, config.authRateLimit.loginPerIp);
    },

    async signup(input: NewPasswordAccount, ip: string): Promise<Session> {
      // Signup answers whether an email is taken, so it is throttled like login.
      await enforceLimit(`signup:ip:${clientNetwork(ip)}`, config.authRateLimit.signupPerIp);
      // Hash before the transaction: it takes tens of milliseconds and must not hold a connection.
      const passwordHash = await accounts.hashPassword(input.password);
      return db.transaction().execute(async (trx) => {
        const user = await accounts.createWithPasswordHash(trx, input, passwordHash);
        return { user, ...(await openSession(trx, user.id)) };
      });
    },

    async login(email: string, password: string, ip: string): Promise<Session> {
      // The address first, and the account only for attempts it lets through: otherwise a client
      // already refused for its address would still use up the account's budget and lock its owner out.
      await enforceLimit(`login:ip:${clientNetwork(ip)}`, config.authRateLimit.loginPerIp);
      await enforceLimit(`login:account:${email.trim().toLowerCase()}`, config.authRateLimit.loginPerAccount);
      const user = await accounts.findByCredentials(email, password);
      if (user === undefined) throw errors.invalidCredentials();
      const tokens = await db.transaction().execute((trx) => openSession(trx, user.id));
      return { user, ...tokens };
    },

    /**
     * Trades a refresh token for a new pair. Each token works once: presenting a used one means it
     * was stolen or replayed, so the whole session family is revoked.
     */
    async refresh(refreshToken: string): Promise<Session> {
      const tokenHash = hashRefreshToken(refreshToken);
      const found = await store.findRefreshToken(db, tokenHash);
      const now = new Date();
      if (found === undefined) throw errors.invalidRefreshToken('This refresh token is not known here: sign in again');
      if (found.revoked_at !== null) {
        throw errors.invalidRefreshToken('This session has ended (signed out, password changed, or ended for safety): sign in again');
      }
      if (found.expires_at <= now) throw errors.invalidRefreshToken('This refresh token has expired: sign in again');
      const tokens = await db.transaction().execute(async (trx) => {
        if (!(await store.markRefreshTokenUsed(trx, tokenHash, now))) return undefined;
        return issueTokens(trx, found.user_id, found.session_id, now);
      });
      if (tokens === undefined) {
        await revokeSession(found.session_id, now);
        throw errors.invalidRefreshToken(
          'This refresh token was already used once, so its session was ended for safety (a copy of it may be in other hands): sign in again',
        );
      }
      return { user: await accounts.getAccount(found.user_id), ...tokens };
    },

    async logout(refreshToken: string): Promise<void> {
      const found = await store.findRefreshToken(db, hashRefreshToken(refreshToken));
      if (found !== undefined) await revokeSession(found.session_id, new Date());
    },

    /** Whether the caller's session is still open (not signed out, nor ended by a password change). */
    isSessionActive: (caller: Caller) => store.isSessionActive(db, caller.sessionId, caller.userId),

    /** The caller behind an access token, if it is valid and its session was not revoked. */
    async authenticate(accessToken: string): Promise<Caller> {
      let refusal = 'The access token is not valid (altered, or not issued by this server): sign in again';
      const caller = await accessCache.through(accessToken, async () => {
        const claims = await accessTokens.verify(accessToken);
        if (claims === 'expired') refusal = 'The access token has expired: get a new one from POST /v1/auth/refresh';
        if (claims === undefined || claims === 'expired') return undefined;
        if (!(await store.isSessionActive(db, claims.sessionId, claims.userId))) {
          refusal = 'The session of this access token has ended (signed out, password changed, or ended for safety): sign in again';
          return undefined;
        }
        return { caller: { userId: claims.userId, sessionId: claims.sessionId }, tokenExpiresAtMs: claims.expiresAtMs };
      });
      if (caller === undefined) throw errors.invalidAccessToken(refusal);
      return caller;
    },

    /**
     * Changes the password, confirmed with the current one, or sets the first one of a social-only
     * account from a fresh sign-in; either way every other device is signed out.
     */
    async changePassword(caller: Caller, currentPassword: string | undefined, newPassword: string): Promise<void> {
      const hadPassword = await reconfirm(caller, currentPassword, 'currentPassword');
      const passwordHash = await accounts.hashPassword(newPassword);
      await db.transaction().execute(async (trx) => {
        if (hadPassword) await accounts.setPasswordHash(trx, caller.userId, passwordHash);
        else if (!(await accounts.setFirstPasswordHash(trx, caller.userId, passwordHash))) {
          throw errors.invalidRequest('This account has a password now: send it as currentPassword', [
            { path: '/currentPassword', message: 'is required: the account has a password' },
          ]);
        }
        await store.revokeSessionsExcept(trx, caller.userId, caller.sessionId, new Date());
      });
      ended({ userId: caller.userId, exceptSessionId: caller.sessionId });
    },

    /**
     * Deletes the caller's account once they confirm it: with their password, or for an account
     * without one with a fresh sign-in. Every session ends with it.
     */
    async deleteAccount(caller: Caller, password: string | undefined): Promise<void> {
      await reconfirm(caller, password, 'password');
      const committed = await outbox.transaction(db, async (trx, emit) => {
        const then = [];
        for (const module of counters) then.push(await module.releaseUser(trx, caller.userId, emit));
        await accounts.deleteAccount(caller.userId, trx);
        await media.forgetOwner(trx, emit, caller.userId);
        return then;
      });
      for (const then of committed) then?.();
      ended({ userId: caller.userId });
    },
  };
}
