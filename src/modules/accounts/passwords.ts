import { hash, verify } from '@node-rs/argon2';
import { errors } from '#http/errors.ts';
import { TaskSlots } from '#platform/slots.ts';
import type { PasswordHashingConfig } from '../../config.ts';

/** OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane. Runs on libuv's thread pool. */
const ARGON2ID = { memoryCost: 19_456, timeCost: 2, parallelism: 1, algorithm: 2 /* Argon2id */ } as const;

/** How long a caller refused for a full queue is told to wait: a turn comes within tens of milliseconds. */
const BUSY_RETRY_AFTER_SECONDS = 1;

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;

/**
 * Hashes and checks passwords, never more than `concurrency` at once in this process: each run
 * holds one of libuv's few threads (and 19 MiB) for tens of milliseconds, and those threads also
 * read files and resolve names, so a burst of logins must not take them all. Up to `queueLimit`
 * runs wait their turn; past that a run is refused at once (429 with Retry-After) instead of
 * queueing without end.
 */
export function createPasswordHasher(limits: PasswordHashingConfig) {
  const turns = new TaskSlots({
    concurrency: limits.concurrency,
    queueLimit: limits.queueLimit,
    refusal: () => errors.rateLimited(BUSY_RETRY_AFTER_SECONDS),
  });
  const hashPassword = (password: string) => turns.run(() => hash(password, ARGON2ID));
  let dummyHash: Promise<string> | undefined;
  const dummy = () => {
    dummyHash ??= hashPassword('plaza-timing-equalizer').catch((error: unknown) => {
      dummyHash = undefined;
      throw error;
    });
    return dummyHash;
  };

  return {
    hash: hashPassword,

    /**
     * Checks a password against a stored hash. Without a stored hash (unknown account, social-only
     * account) it still verifies against a dummy hash, so the answer takes as long either way and
     * timing does not reveal which emails have accounts.
     */
    async verify(storedHash: string | null, password: string): Promise<boolean> {
      if (storedHash === null) {
        const standIn = await dummy();
        await turns.run(() => matches(standIn, password));
        return false;
      }
      return turns.run(() => matches(storedHash, password));
    },
  };
}

/**
 * Whether a password matches a hash. A stored value argon2 cannot decode (not one of our hashes)
 * matches nothing; any other failure is the server's and is thrown, to be logged and answered 500.
 */
async function matches(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, password);
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'InvalidArg') return false;
    throw error;
  }
}
