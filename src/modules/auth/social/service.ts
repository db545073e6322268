import { createHash } from 'node:crypto';
import type { Database } from '#platform/db/database.ts';
import { violatedUniqueConstraint } from '#platform/db/errors.ts';
import type { Caller } from '#http/auth.ts';
import { AppError, errors } from '#http/errors.ts';
import type { SocialProviderConfig } from '../../../config.ts';
import type { Account } from '../../accounts/schemas.ts';
import type { AccountsService } from '../../accounts/service.ts';
import type { AuthService, Session } from '../service.ts';
import type { AccessTokenVerifier } from './access-tokens.ts';
import type { AvatarCopy } from './avatar-copy.ts';
import type { IdTokenVerifier, VerifiedIdentity } from './id-tokens.ts';
import { socialErrors } from './problems.ts';
import * as store from './store.ts';

/** The longest name `DisplayName` allows. */
const NAME_MAX_LENGTH = 50;

export type SocialSignIn = Session & { created: boolean };
export type SocialSignInService = ReturnType<typeof createSocialSignInService>;

/** Thrown inside a first sign-in's transaction when a concurrent one linked the same provider account first: undoes the new user. */
class IdentityLinkedMeanwhile extends Error {}

export function createSocialSignInService(deps: {
  db: Database;
  accounts: Pick<AccountsService, 'createWithoutPassword' | 'emailInUse' | 'getAccount' | 'hasPassword' | 'lockUser'>;
  sessions: Pick<AuthService, 'openSession' | 'countSignInAttempt'>;
  idTokens: Pick<IdTokenVerifier, 'verify'>;
  accessTokens: Pick<AccessTokenVerifier, 'verify'>;
  providers: readonly SocialProviderConfig[];
  avatarCopy: Pick<AvatarCopy, 'copy'>;
}) {
  const { db, accounts, sessions, idTokens, accessTokens } = deps;
  const providers = new Map(deps.providers.map((provider) => [provider.id, provider]));

  /**
   * The identity a provider token proves. An ID token proves it once; an access token (of a provider
   * without ID tokens, or Kakao's when it is no JWT) as long as the provider's API accepts it, since
   * the app keeps calling that API with it (the nonce, an ID-token claim, does not apply to it).
   */
  async function prove(providerId: string, token: string, nonce: string | undefined): Promise<{ provider: SocialProviderConfig; identity: VerifiedIdentity }> {
    const provider = providers.get(providerId);
    if (provider === undefined) throw socialErrors.unknownProvider(providerId);
    if (provider.api !== undefined && (provider.issuer === undefined || !looksLikeJwt(token))) {
      return { provider, identity: await accessTokens.verify(provider, token) };
    }
    const identity = await idTokens.verify(provider, token, nonce);
    const tokenHash = createHash('sha256').update(token).digest('base64url');
    if (!(await store.markIdTokenUsed(db, tokenHash, identity.expiresAt, new Date()))) {
      throw socialErrors.invalidSocialToken('This token has been used once already: sign in at the provider again for a fresh one');
    }
    return { provider, identity };
  }

  async function signInAs(userId: string): Promise<SocialSignIn> {
    const tokens = await db.transaction().execute((trx) => sessions.openSession(trx, userId));
    return { user: await accounts.getAccount(userId), ...tokens, created: false };
  }

  /** A new user for a provider account seen for the first time; undefined when a concurrent sign-in made one first. */
  async function signUp(provider: SocialProviderConfig, identity: VerifiedIdentity): Promise<SocialSignIn | undefined> {
    // Never linked by email: an address someone's account holds is theirs to link, signed in.
    const email = identity.emailVerified ? identity.email : null;
    if (email !== null && (await accounts.emailInUse(email))) throw socialErrors.accountExists();
    const name = displayName(identity, provider);
    try {
      const { userId, tokens } = await db.transaction().execute(async (trx) => {
        const user = await accounts.createWithoutPassword(trx, { name, email });
        const inserted = await store.insertIdentity(trx, identityRow(provider, identity, user.id));
        if (!inserted) throw new IdentityLinkedMeanwhile();
        return { userId: user.id, tokens: await sessions.openSession(trx, user.id) };
      });
      // Once the user is committed, within its own time bound; the sign-in goes on without it if it fails.
      await deps.avatarCopy.copy(userId, provider, identity.picture);
      return { user: await accounts.getAccount(userId), ...tokens, created: true };
    } catch (error) {
      if (error instanceof IdentityLinkedMeanwhile) return undefined;
      // The email was taken between the check and the insert.
      if (error instanceof AppError && error.code === 'email_taken') throw socialErrors.accountExists();
      throw error;
    }
  }

  /**
   * Signs in with a provider token (a native app's, or the web flow's): the provider account's user,
   * made on its first sign-in. `givenName` is a name the provider handed over beside a token that
   * carries none (Apple's web sign-in posts it once), used only if the token has none.
   */
  async function signInWithToken(providerId: string, token: string, nonce: string | undefined, givenName?: string): Promise<SocialSignIn> {
    const proven = await prove(providerId, token, nonce);
    const { provider } = proven;
    const identity = { ...proven.identity, name: proven.identity.name ?? givenName };
    const known = await store.findIdentity(db, provider.id, identity.subject);
    if (known !== undefined) return signInAs(known.user_id);
    const created = await signUp(provider, identity);
    if (created !== undefined) return created;
    const linked = await store.findIdentity(db, provider.id, identity.subject);
    if (linked === undefined) throw new Error('social sign-in: the identity that won the race is gone');
    return signInAs(linked.user_id);
  }

  return {
    /** The configured providers, as sign-in buttons list them. */
    list(): { id: string; name: string }[] {
      return [...providers.values()].map(({ id, name }) => ({ id, name }));
    },

    /** Signs in with a token a native app got from its provider, counted against the address's sign-in attempts. */
    async signIn(providerId: string, token: string, nonce: string | undefined, ip: string): Promise<SocialSignIn> {
      // Before the provider is asked: refused attempts must not cost it (or Plaza) a call.
      await sessions.countSignInAttempt(ip);
      return signInWithToken(providerId, token, nonce);
    },

    /** For the web flow, which counted the attempt when it started. */
    signInWithToken,

    /** Links the provider account a fresh token proves to the caller's account (the web flow's: the user who started it). */
    async link(caller: Pick<Caller, 'userId'>, providerId: string, token: string, nonce: string | undefined): Promise<Account> {
      if (!providers.has(providerId)) throw errors.notFound('provider');
      const { provider, identity } = await prove(providerId, token, nonce);
      const known = await store.findIdentity(db, provider.id, identity.subject);
      if (known !== undefined && known.user_id !== caller.userId) throw socialErrors.identityTaken();
      if (known === undefined) {
        try {
          const inserted = await store.insertIdentity(db, identityRow(provider, identity, caller.userId));
          if (!inserted) throw socialErrors.identityTaken();
        } catch (error) {
          if (violatedUniqueConstraint(error) === 'identities_user_provider_key') throw socialErrors.providerAlreadyLinked();
          throw error;
        }
      }
      return accounts.getAccount(caller.userId);
    },

    /** Unlinks a provider, unless it is the last way left to sign in. */
    async unlink(caller: Caller, providerId: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        // One at a time per user: two unlinks at once must not both see the other method still there.
        if (!(await accounts.lockUser(trx, caller.userId))) throw errors.invalidAccessToken('This account no longer exists');
        const linked = await store.providersOf(trx, caller.userId);
        if (!linked.includes(providerId)) throw errors.notFound('linked provider');
        if (linked.length === 1 && !(await accounts.hasPassword(caller.userId, trx))) throw socialErrors.lastSignInMethod();
        await store.deleteIdentity(trx, caller.userId, providerId);
      });
    },
  };
}

/** The identity row that ties a provider account to a user, with the email as the provider gave it. */
function identityRow(provider: SocialProviderConfig, identity: VerifiedIdentity, userId: string) {
  return { provider: provider.id, subject: identity.subject, user_id: userId, email: identity.email, email_verified: identity.emailVerified, created_at: new Date() };
}

/** The new user's name: the token's, else the verified email's local part, else the provider's user. */
function displayName(identity: VerifiedIdentity, provider: SocialProviderConfig): string {
  const verifiedEmail = identity.emailVerified ? identity.email : null;
  const name = identity.name ?? verifiedEmail?.split('@', 1)[0]?.trim() ?? '';
  const chosen = name === '' ? `${provider.name} user` : name;
  return [...chosen].slice(0, NAME_MAX_LENGTH).join('').trim();
}

/** A JWS in compact form is three dot-separated parts; the providers' opaque access tokens have none. */
function looksLikeJwt(token: string): boolean {
  return token.split('.').length === 3;
}
