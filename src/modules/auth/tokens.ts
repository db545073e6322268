import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';

const ISSUER = 'plaza';
const AUDIENCE = 'plaza-api';

export type AccessClaims = { userId: string; sessionId: string };
export type VerifiedAccess = AccessClaims & { expiresAtMs: number };

/** Signs and verifies short-lived HS256 access tokens. Only HS256 is accepted, never `none`. */
export function createAccessTokens(secret: string, ttlSeconds: number) {
  const key = new TextEncoder().encode(secret);
  return {
    ttlSeconds,
    sign(claims: AccessClaims): Promise<string> {
      return new SignJWT({ sid: claims.sessionId })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(claims.userId)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(key);
    },
    /**
     * The claims of a valid token; `'expired'` for one of ours past its expiry (jose checks the
     * signature before the claims), so the caller can be told to refresh; `undefined` for anything
     * tampered or foreign.
     */
    async verify(token: string): Promise<VerifiedAccess | 'expired' | undefined> {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          issuer: ISSUER,
          audience: AUDIENCE,
          requiredClaims: ['sub', 'exp', 'sid'],
        });
        if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || payload.exp === undefined) {
          return undefined;
        }
        return { userId: payload.sub, sessionId: payload.sid, expiresAtMs: payload.exp * 1000 };
      } catch (error) {
        return error instanceof joseErrors.JWTExpired ? 'expired' : undefined;
      }
    },
  };
}

export type AccessTokens = ReturnType<typeof createAccessTokens>;

/** A new opaque refresh token: 256 random bits. Only its hash is stored. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = `rt_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
