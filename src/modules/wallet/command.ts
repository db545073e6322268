import { userInfo } from 'node:os';
import { CliError } from '../../cli/errors.ts';
import type { Config } from '../../config.ts';
import { AppError } from '#http/errors.ts';
import type { Database } from '#platform/db/database.ts';
import { migrateToLatest } from '#platform/db/migrate.ts';
import { openDatabase } from '#platform/db/open.ts';
import { createPasswordHasher } from '../accounts/passwords.ts';
import { createAccountsService } from '../accounts/service.ts';
import { MAX_GRANT_COINS, MAX_GRANT_REASON_LENGTH } from './schemas.ts';
import { grantCoins } from './service.ts';
import { ledgerBreaches } from './store.ts';

export const ADMIN_USAGE = `Usage:
  plaza admin grant-coins --handle H --coins N [--reason R]   add N coins (1..${MAX_GRANT_COINS}) to @H's wallet
  plaza admin ledger check                                     verify the coin ledger; exits 1 naming each breach`;

export type AdminFlags = { handle?: string | undefined; coins?: string | undefined; reason?: string | undefined };

/**
 * What `plaza admin` says when the embedded database is held by a running server (PGlite is one
 * process's): grants go through the server instead; a check waits for it to stop.
 */
export function refusalWhileServed(positionals: readonly string[]): string {
  return positionals[1] === 'grant-coins'
    ? 'The running server holds the embedded database (DATA_DIR): grant coins through it with POST /v1/admin/grants, signed in as an ADMIN_EMAILS account (or stop the server first).'
    : 'The running server holds the embedded database (DATA_DIR): stop it to run plaza admin ledger check.';
}

/**
 * `plaza admin …`: operators' commands on the coin ledger. Checks the arguments, every problem at
 * once, and answers what to run once the database may be opened.
 */
export function admin(positionals: readonly string[], flags: AdminFlags): (config: Config) => Promise<void> {
  const [, command, ...rest] = positionals;
  if (command === 'grant-coins' && rest.length === 0) {
    const input = grantInput(flags);
    return (config) => grant(config, input);
  }
  if (command === 'ledger' && rest.length === 1 && rest[0] === 'check' && noFlags(flags)) return check;
  throw new CliError(ADMIN_USAGE);
}

const noFlags = (flags: AdminFlags) => flags.handle === undefined && flags.coins === undefined && flags.reason === undefined;

/** The flags, checked before anything is opened: every problem at once. */
function grantInput(flags: AdminFlags): { handle: string; coins: number; reason?: string } {
  const problems: string[] = [];
  const handle = flags.handle?.replace(/^@/, '').trim() ?? '';
  if (handle === '') problems.push('--handle is required (whose wallet)');
  const coins = Number(flags.coins);
  if (flags.coins === undefined) problems.push('--coins is required');
  else if (!/^\d+$/.test(flags.coins) || coins < 1 || coins > MAX_GRANT_COINS) problems.push(`--coins must be a whole number from 1 to ${MAX_GRANT_COINS} (got "${flags.coins}")`);
  const reason = flags.reason?.trim();
  if (reason !== undefined && reason.length > MAX_GRANT_REASON_LENGTH) problems.push(`--reason has at most ${MAX_GRANT_REASON_LENGTH} characters`);
  if (problems.length > 0) throw new CliError(`${problems.join('\n')}\n\n${ADMIN_USAGE}`);
  return { handle, coins, ...(reason !== undefined && reason !== '' && { reason }) };
}

async function withDatabase<T>(config: Config, work: (db: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase(config);
  try {
    await migrateToLatest(database);
    return await work(database.db);
  } finally {
    await database.close();
  }
}

async function grant(config: Config, input: { handle: string; coins: number; reason?: string }): Promise<void> {
  const transaction = await withDatabase(config, async (db) => {
    const accounts = createAccountsService({ db, publicUrl: config.publicUrl, passwords: createPasswordHasher(config.passwordHashing) });
    try {
      return await grantCoins({ db, accounts }, { ...input, madeBy: `cli:${userInfo().username}` });
    } catch (error) {
      if (error instanceof AppError && error.status === 404) throw new CliError(`No user has the handle @${input.handle}.`);
      throw error;
    }
  });
  console.log(`Granted ${input.coins} coins to @${input.handle} (transaction ${transaction.id}); their balance is now ${transaction.balanceAfter}.`);
}

async function check(config: Config): Promise<void> {
  const breaches = await withDatabase(config, ledgerBreaches);
  if (breaches.length === 0) return console.log('The ledger holds: every transaction balances, every balance equals its entries, none is negative.');
  for (const breach of breaches) console.error(breach);
  console.error(`${breaches.length} ledger breach(es).`);
  process.exitCode = 1;
}
