import type { Caller } from '#http/auth.ts';

type Entry = { caller: Caller; until: number };

/**
 * Remembers, for a few seconds, access tokens that were verified and whose session was found
 * active, so a busy client does not pay a signature check and a session query on every request.
 * Revocations through this process evict at once; a revocation made by another instance is seen
 * here when the entry expires (at most `ttlMs` later).
 */
export class AccessCache {
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { ttlMs: number; maxEntries?: number; now?: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  get(token: string): Caller | undefined {
    const entry = this.#entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.until > this.#now()) return entry.caller;
    this.#entries.delete(token);
    return undefined;
  }

  /** Caches a verified caller until the token expires or the TTL passes, whichever is first. */
  remember(token: string, caller: Caller, tokenExpiresAtMs: number): void {
    if (this.#ttlMs <= 0) return;
    if (this.#entries.size >= this.#maxEntries) {
      // Drop the oldest entry (Maps iterate in insertion order).
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(token, { caller, until: Math.min(tokenExpiresAtMs, this.#now() + this.#ttlMs) });
  }

  forgetSession(sessionId: string): void {
    this.#forget((caller) => caller.sessionId === sessionId);
  }

  /** Forgets the user's sessions, all of them or all but one. */
  forgetUser(userId: string, exceptSessionId?: string): void {
    this.#forget((caller) => caller.userId === userId && caller.sessionId !== exceptSessionId);
  }

  #forget(matches: (caller: Caller) => boolean): void {
    for (const [token, entry] of this.#entries) if (matches(entry.caller)) this.#entries.delete(token);
  }
}
