import type { Caller } from '#http/auth.ts';

type Entry = { caller: Caller; until: number };

/** What a token check that passed hands the cache: who is calling, and until when the token is valid. */
export type VerifiedCaller = { caller: Caller; tokenExpiresAtMs: number };

/**
 * Remembers, for a few seconds, access tokens that were verified and whose session was found
 * active, so a busy client does not pay a signature check and a session query on every request.
 * Revocations through this process evict at once; a revocation made by another instance is seen
 * here when the entry expires (at most `ttlMs` later).
 *
 * A revocation also leaves a tombstone, numbered in order: a check that began before it (and so
 * may have read the session as active) finishes without caching its answer, or a logout racing a
 * request would leave the revoked session cached for the whole TTL.
 */
export class AccessCache {
  readonly #entries = new Map<string, Entry>();
  /** `session:<id>` or `user:<id>` → number of the latest revocation of it, oldest first. */
  readonly #tombstones = new Map<string, number>();
  #revocations = 0;
  /** Tombstones up to this number were dropped to bound memory: checks begun before it are not cached. */
  #droppedThrough = 0;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { ttlMs: number; maxEntries?: number; now?: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The caller behind `token`: from the cache, or from `check` (undefined when the token or its
   * session is not valid), whose answer is then cached unless a revocation touched it meanwhile.
   */
  async through(token: string, check: () => Promise<VerifiedCaller | undefined>): Promise<Caller | undefined> {
    const cached = this.#get(token);
    if (cached !== undefined) return cached;
    const began = this.#revocations;
    const verified = await check();
    if (verified !== undefined && !this.#revokedSince(verified.caller, began)) this.#remember(token, verified);
    return verified?.caller;
  }

  forgetSession(sessionId: string): void {
    this.#bury(`session:${sessionId}`);
    this.#forget((caller) => caller.sessionId === sessionId);
  }

  /** Forgets the user's sessions, all of them or all but one. */
  forgetUser(userId: string, exceptSessionId?: string): void {
    // The tombstone covers the kept session too: not caching one answer for it costs only a query.
    this.#bury(`user:${userId}`);
    this.#forget((caller) => caller.userId === userId && caller.sessionId !== exceptSessionId);
  }

  #get(token: string): Caller | undefined {
    const entry = this.#entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.until > this.#now()) return entry.caller;
    this.#entries.delete(token);
    return undefined;
  }

  /** Caches a verified caller until the token expires or the TTL passes, whichever is first. */
  #remember(token: string, verified: VerifiedCaller): void {
    if (this.#ttlMs <= 0) return;
    if (this.#entries.size >= this.#maxEntries) dropOldest(this.#entries);
    this.#entries.set(token, { caller: verified.caller, until: Math.min(verified.tokenExpiresAtMs, this.#now() + this.#ttlMs) });
  }

  #revokedSince(caller: Caller, began: number): boolean {
    if (began < this.#droppedThrough) return true;
    const latest = Math.max(
      this.#tombstones.get(`session:${caller.sessionId}`) ?? 0,
      this.#tombstones.get(`user:${caller.userId}`) ?? 0,
    );
    return latest > began;
  }

  #bury(name: string): void {
    this.#revocations += 1;
    this.#tombstones.delete(name);
    this.#tombstones.set(name, this.#revocations);
    if (this.#tombstones.size > this.#maxEntries) {
      const oldest = this.#tombstones.entries().next();
      if (oldest.done !== true) {
        this.#tombstones.delete(oldest.value[0]);
        this.#droppedThrough = oldest.value[1];
      }
    }
  }

  #forget(matches: (caller: Caller) => boolean): void {
    for (const [token, entry] of this.#entries) if (matches(entry.caller)) this.#entries.delete(token);
  }
}

/** Drops a Map's oldest entry (Maps iterate in insertion order). */
function dropOldest(map: Map<string, unknown>): void {
  const oldest = map.keys().next();
  if (oldest.done !== true) map.delete(oldest.value);
}
