import type { Database } from '#platform/db/database.ts';
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

type AuthDeps = {
  db: Database;
  accounts: AccountsService;
  /** Told when an account is deleted, so the bytes it stored go too. */
  media: Pick<MediaService, 'forgetOwner'>;
  /** Asked, inside the deleting transaction, to take the account off other users' counters. */
  counters: readonly { releaseUser(trx: Database, userId: string): Promise<void> }[];
  accessTokens: AccessTokens;
  accessCache: AccessCache;
  rateLimiter: RateLimiter;
  config: Pick<Config, 'refreshTokenTtlSeconds' | 'authRateLimit'>;
};

export type AuthService = ReturnType<typeof createAuthService>;

export function createAuthService(deps: AuthDeps) {
  const { db, accounts, media, counters, accessTokens, accessCache, rateLimiter, config } = deps;

  async function revokeSession(sessionId: string, at: Date): Promise<void> {
    await store.revokeSession(db, sessionId, at);
    accessCache.forgetSession(sessionId);
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

  /** Counts one attempt against each limit; refused when any is exceeded. */
  async function enforceLimits(limits: [key: string, limit: number][]): Promise<void> {
    const { windowSeconds } = config.authRateLimit;
    const decisions = await Promise.all(limits.map(([key, limit]) => rateLimiter.hit(key, limit, windowSeconds)));
    const retryAfter = Math.max(0, ...decisions.map((d) => (d.allowed ? 0 : d.retryAfterSeconds)));
    if (retryAfter > 0) throw errors.rateLimited(retryAfter);
  }

  return {
    async signup(input: NewPasswordAccount, ip: string): Promise<Session> {
      // Signup answers whether an email is taken, so it is throttled like login.
      await enforceLimits([[`signup:ip:${ip}`, config.authRateLimit.signupPerIp]]);
      // Hash before the transaction: it takes tens of milliseconds and must not hold a connection.
      const passwordHash = await accounts.hashPassword(input.password);
      return db.transaction().execute(async (trx) => {
        const user = await accounts.createWithPasswordHash(trx, input, passwordHash);
        return { user: accounts.toAccount(user), ...(await openSession(trx, user.id)) };
      });
    },

    async login(email: string, password: string, ip: string): Promise<Session> {
      await enforceLimits([
        [`login:ip:${ip}`, config.authRateLimit.loginPerIp],
        [`login:account:${email.trim().toLowerCase()}`, config.authRateLimit.loginPerAccount],
      ]);
      const user = await accounts.findByCredentials(email, password);
      if (user === undefined) throw errors.invalidCredentials();
      const tokens = await db.transaction().execute((trx) => openSession(trx, user.id));
      return { user: accounts.toAccount(user), ...tokens };
    },

    /**
     * Trades a refresh token for a new pair. Each token works once: presenting a used one means it
     * was stolen or replayed, so the whole session family is revoked.
     */
    async refresh(refreshToken: string): Promise<Session> {
      const tokenHash = hashRefreshToken(refreshToken);
      const found = await store.findRefreshToken(db, tokenHash);
      const now = new Date();
      if (found === undefined || found.revoked_at !== null || found.expires_at <= now) {
        throw errors.invalidRefreshToken();
      }
      const tokens = await db.transaction().execute(async (trx) => {
        if (!(await store.markRefreshTokenUsed(trx, tokenHash, now))) return undefined;
        return issueTokens(trx, found.user_id, found.session_id, now);
      });
      if (tokens === undefined) {
        await revokeSession(found.session_id, now);
        throw errors.invalidRefreshToken();
      }
      return { user: await accounts.getAccount(found.user_id), ...tokens };
    },

    async logout(refreshToken: string): Promise<void> {
      const found = await store.findRefreshToken(db, hashRefreshToken(refreshToken));
      if (found !== undefined) await revokeSession(found.session_id, new Date());
    },

    /** The caller behind an access token, if it is valid and its session was not revoked. */
    async authenticate(accessToken: string): Promise<Caller> {
      const cached = accessCache.get(accessToken);
      if (cached !== undefined) return cached;
      const claims = await accessTokens.verify(accessToken);
      if (claims === undefined || !(await store.isSessionActive(db, claims.sessionId, claims.userId))) {
        throw errors.unauthorized();
      }
      const caller = { userId: claims.userId, sessionId: claims.sessionId };
      accessCache.remember(accessToken, caller, claims.expiresAtMs);
      return caller;
    },

    /** Changes the password and signs out every other device. */
    async changePassword(caller: Caller, currentPassword: string, newPassword: string): Promise<void> {
      if (!(await accounts.passwordMatches(caller.userId, currentPassword))) throw errors.wrongPassword();
      const passwordHash = await accounts.hashPassword(newPassword);
      await db.transaction().execute(async (trx) => {
        await accounts.setPasswordHash(trx, caller.userId, passwordHash);
        await store.revokeSessionsExcept(trx, caller.userId, caller.sessionId, new Date());
      });
      accessCache.forgetUser(caller.userId, caller.sessionId);
    },

    /** Deletes the caller's account once they confirm it with their password; every session ends with it. */
    async deleteAccount(caller: Caller, password: string): Promise<void> {
      if (!(await accounts.passwordMatches(caller.userId, password))) throw errors.wrongPassword();
      await db.transaction().execute(async (trx) => {
        for (const module of counters) await module.releaseUser(trx, caller.userId);
        await accounts.deleteAccount(caller.userId, trx);
      });
      accessCache.forgetUser(caller.userId);
      await media.forgetOwner(caller.userId);
    },
  };
}
