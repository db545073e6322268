import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { loadConfig, ConfigError } from '../src/config.ts';
import { lockDataDir } from '../src/platform/data-dir-lock.ts';
import { appPerFile } from './helpers/app.ts';
import { assertProblem, publish, signUp, type TestSession } from './helpers/factories.ts';
import { ADMIN_EMAIL, assertLedgerHolds, grant, signUpAdmin } from './helpers/ledger.ts';

const { api, testApp: shared } = (() => {
  const app = appPerFile({ ADMIN_EMAILS: ` Someone@else.test, ${ADMIN_EMAIL.toUpperCase()} ` });
  return { api: app.api, testApp: () => app.testApp };
})();
const as = (session: { accessToken: string }) => ({ token: session.accessToken });
let admin: Promise<TestSession> | undefined;
const operator = () => (admin ??= signUpAdmin(api));

describe('configuration', () => {
  const base = { DATA_DIR: '/tmp/plaza-config-test', JWT_SECRET: 'x'.repeat(32) };

  test('coin packages and the fee have their defaults', () => {
    const config = loadConfig(base);
    assert.deepEqual(config.wallet.coinPackages, [
      { id: 'coins-100', coins: 100, amount: 199, currency: 'usd' },
      { id: 'coins-550', coins: 550, amount: 999, currency: 'usd' },
      { id: 'coins-1200', coins: 1200, amount: 1999, currency: 'usd' },
    ]);
    assert.equal(config.wallet.platformFeePercent, 10);
    assert.deepEqual(config.adminEmails, []);
  });

  test('every problem with the wallet settings is reported at once, one line each', () => {
    const error = (() => {
      try {
        loadConfig({
          ...base,
          COIN_PACKAGES: JSON.stringify([{ id: 'a', coins: 0, amount: 1.5, currency: 'dollars' }, { id: 'a', coins: 5, amount: 5, currency: 'EUR' }]),
          PLATFORM_FEE_PERCENT: '101',
          ADMIN_EMAILS: 'not-an-email',
        });
      } catch (caught) {
        return caught;
      }
      return assert.fail('accepted');
    })();
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      'ADMIN_EMAILS: "not-an-email" is not an email address',
      'COIN_PACKAGES[0]: coins must be an integer from 1 to 10000000',
      'COIN_PACKAGES[0]: amount must be an integer from 1 to 100000000 (the price in cents)',
      'COIN_PACKAGES[0]: currency must be a three-letter ISO code (e.g. usd)',
      'COIN_PACKAGES[1]: id "a" is used twice',
      'PLATFORM_FEE_PERCENT must be an integer from 0 to 100 (got "101")',
    ]);
    for (const bad of ['not json', '{}', '[]']) {
      assert.throws(() => loadConfig({ ...base, COIN_PACKAGES: bad }), /COIN_PACKAGES must be a JSON array/);
    }
  });

  test('packages are served as configured', async () => {
    const answer = await api.get('/v1/wallet/packages');
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.body.packages.map((pack: { id: string }) => pack.id), ['coins-100', 'coins-550', 'coins-1200']);
  });
});

describe('wallet and grants', () => {
  test('a new wallet is empty', async () => {
    const user = await signUp(api);
    assert.deepEqual((await api.get('/v1/wallet', as(user))).body, { balance: 0, debt: 0 });
    assert.deepEqual((await api.get('/v1/wallet/transactions', as(user))).body, { items: [], nextCursor: null });
  });

  test('an operator grants coins; the wallet and its transactions show them, newest first, page by page', async () => {
    const [admin, user] = await Promise.all([operator(), signUp(api)]);
    const first = await grant(api, admin, user, 100, 'welcome');
    assert.equal(first.type, 'grant');
    assert.equal(first.amount, 100);
    assert.equal(first.balanceAfter, 100);
    assert.ok(!('postId' in first));
    const second = await grant(api, admin, user, 25);
    assert.equal(second.balanceAfter, 125);
    const third = await grant(api, admin, user, 1);
    assert.deepEqual((await api.get('/v1/wallet', as(user))).body, { balance: 126, debt: 0 });

    const page1 = await api.get('/v1/wallet/transactions?limit=2', as(user));
    assert.equal(page1.status, 200, page1.text);
    assert.deepEqual(page1.body.items.map((item: { id: string }) => item.id), [third.id, second.id]);
    const page2 = await api.get(`/v1/wallet/transactions?limit=2&cursor=${page1.body.nextCursor}`, as(user));
    assert.deepEqual(page2.body.items, [first]);
    assert.equal(page2.body.nextCursor, null);
    assertProblem(await api.get('/v1/wallet/transactions?cursor=bogus', as(user)), 400, 'invalid_request');

    // Who made it and why is on record.
    const { rows } = await sql<{ made_by: string; reason: string | null }>`select made_by, reason from ledger_transactions where id = ${first.id}`.execute(shared().deps.database.db);
    assert.deepEqual(rows, [{ made_by: `user:${admin.user.id}`, reason: 'welcome' }]);
    await assertLedgerHolds(shared());
  });

  test('only operators grant; others get 403 whatever they send', async () => {
    const [user, other] = await Promise.all([signUp(api), signUp(api)]);
    assertProblem(await api.post('/v1/admin/grants', { handle: other.user.handle, coins: 10 }, as(user)), 403, 'forbidden');
    assertProblem(await api.post('/v1/admin/grants', { coins: 'lots' }, as(user)), 403, 'forbidden');
    assertProblem(await api.post('/v1/admin/grants', { handle: user.user.handle, coins: 10 }), 401, 'unauthorized');
    assert.deepEqual((await api.get('/v1/wallet', as(other))).body, { balance: 0, debt: 0 });
  });

  test('a grant of a bad amount, to nobody, or missing fields is refused and moves nothing', async () => {
    const [admin, user] = await Promise.all([operator(), signUp(api)]);
    const bad: unknown[] = [
      { handle: user.user.handle, coins: 0 },
      { handle: user.user.handle, coins: -5 },
      { handle: user.user.handle, coins: 10_000_001 },
      { handle: user.user.handle, coins: 1e300 },
      { handle: user.user.handle, coins: 1.5 },
      { handle: user.user.handle, coins: '10' },
      { handle: user.user.handle, coins: null },
      { handle: user.user.handle },
      { coins: 10 },
      { handle: user.user.handle, coins: 10, reason: 'x'.repeat(501) },
      { handle: user.user.handle, coins: 10, extra: true },
    ];
    for (const body of bad) assertProblem(await api.post('/v1/admin/grants', body, as(admin)), 400, 'invalid_request');
    assertProblem(await api.post('/v1/admin/grants', { handle: 'nobody-has-this', coins: 10 }, as(admin)), 404, 'not_found');
    assert.deepEqual((await api.get('/v1/wallet', as(user))).body, { balance: 0, debt: 0 });
    await grant(api, admin, user, 10_000_000);
    assert.equal((await api.get('/v1/wallet', as(user))).body.balance, 10_000_000);
  });

  test('ledger entries are append-only in the database itself', async () => {
    const db = shared().deps.database.db;
    await assert.rejects(sql`update ledger_entries set amount = amount + 1`.execute(db), /append-only/);
    await assert.rejects(sql`delete from ledger_entries`.execute(db), /append-only/);
    await assert.rejects(sql`update wallet_accounts set balance = -1 where kind = 'wallet'`.execute(db), /wallet_accounts_wallet_not_negative/);
  });
});

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;

async function plaza(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env } });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, output };
}

describe('plaza admin', () => {
  const envOf = () => {
    const { config } = shared();
    return {
      DATA_DIR: config.dataDir,
      ...(config.databaseUrl !== undefined && { DATABASE_URL: config.databaseUrl, DATABASE_SCHEMA: config.databaseSchema, JWT_SECRET: config.jwtSecret }),
    };
  };

  test('bad arguments are named before anything is opened', async () => {
    // A directory that cannot be made: opening anything would fail another way.
    const env = { DATA_DIR: '/proc/plaza-admin-test' };
    const missing = await plaza(['admin', 'grant-coins'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.output, /--handle is required/);
    assert.match(missing.output, /--coins is required/);
    for (const coins of ['0', '-1', '1.5', 'ten', '10000001']) {
      const answer = await plaza(['admin', 'grant-coins', '--handle', 'x', `--coins=${coins}`], env);
      assert.equal(answer.code, 1, answer.output);
      assert.match(answer.output, /--coins must be a whole number from 1 to 10000000/);
    }
    assert.equal((await plaza(['admin', 'ledger'], env)).code, 1);
    assert.equal((await plaza(['migrate', '--coins', '5'], env)).code, 2);
  });

  if ((process.env.DATABASE_URL ?? '') === '') {
    test('on the embedded database, beside the running server, it refuses in one line and says how', async () => {
      // The server holds DATA_DIR as `plaza serve` does (the test app itself does not take the lock).
      const lock = await lockDataDir(shared().config.dataDir, { pid: process.pid, command: 'plaza serve', since: new Date().toISOString() });
      try {
        const granted = await plaza(['admin', 'grant-coins', '--handle', 'someone', '--coins', '5'], envOf());
        assert.equal(granted.code, 1);
        assert.deepEqual(granted.output.trim().split('\n'), [
          'The running server holds the embedded database (DATA_DIR): grant coins through it with POST /v1/admin/grants, signed in as an ADMIN_EMAILS account (or stop the server first).',
        ]);
        const checked = await plaza(['admin', 'ledger', 'check'], envOf());
        assert.equal(checked.code, 1);
        assert.match(checked.output, /stop it to run plaza admin ledger check/);
      } finally {
        await lock.release();
      }
    });
  } else {
    test('on PostgreSQL it grants beside the running server, and the check passes, then names a breach', async () => {
      const user = await signUp(api);
      const granted = await plaza(['admin', 'grant-coins', '--handle', `@${user.user.handle}`, '--coins', '42', '--reason', 'support ticket 7'], envOf());
      assert.equal(granted.code, 0, granted.output);
      assert.match(granted.output, /Granted 42 coins to @\S+ \(transaction \w+\); their balance is now 42\./);
      assert.deepEqual((await api.get('/v1/wallet', as(user))).body, { balance: 42, debt: 0 });
      const db = shared().deps.database.db;
      const { rows } = await sql<{ made_by: string; reason: string }>`select made_by, reason from ledger_transactions where reason = 'support ticket 7'`.execute(db);
      assert.match(rows[0]?.made_by ?? '', /^cli:/);
      const nobody = await plaza(['admin', 'grant-coins', '--handle', 'nobody-has-this', '--coins', '1'], envOf());
      assert.equal(nobody.code, 1);
      assert.match(nobody.output, /No user has the handle @nobody-has-this\./);

      const clean = await plaza(['admin', 'ledger', 'check'], envOf());
      assert.equal(clean.code, 0, clean.output);
      assert.match(clean.output, /The ledger holds/);
      // A balance that drifted from its entries (written behind the ledger's back) is named.
      await sql`update wallet_accounts set balance = balance + 1 where id = ${`wallet:${user.user.id}`}`.execute(db);
      const broken = await plaza(['admin', 'ledger', 'check'], envOf());
      await sql`update wallet_accounts set balance = balance - 1 where id = ${`wallet:${user.user.id}`}`.execute(db);
      assert.equal(broken.code, 1, broken.output);
      assert.match(broken.output, new RegExp(`account wallet:${user.user.id}: balance 43, but its entries sum to 42`));

      // A buyer charged with no purchase on record is named too.
      const post = await publish(api, await signUp(api), { text: 'paid', priceCoins: 5 });
      assert.equal((await api.post(`/v1/posts/${post.id}/purchase`, undefined, as(user))).status, 201);
      const [purchase] = (await sql<Record<string, unknown>>`delete from purchases where buyer_id = ${user.user.id} returning *`.execute(db)).rows;
      const charged = await plaza(['admin', 'ledger', 'check'], envOf());
      await db.insertInto('purchases').values(purchase as any).execute();
      assert.equal(charged.code, 1, charged.output);
      assert.match(charged.output, new RegExp(`transaction ${String(purchase?.transaction_id)}: a purchase transaction that is not one purchase's`));
    });
  }
});
