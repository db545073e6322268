import assert from 'node:assert/strict';
import { ledgerBreaches } from '../../src/modules/wallet/store.ts';
import type { TestApp } from './app.ts';
import type { Client } from './http.ts';
import { signUp, type TestSession } from './factories.ts';

/** The check `plaza admin ledger check` runs, on the test app's database: it must find nothing. */
export async function assertLedgerHolds(testApp: TestApp): Promise<void> {
  assert.deepEqual(await ledgerBreaches(testApp.deps.database.db), [], 'the ledger check finds breaches');
}

/** An operator: an account whose email is the ADMIN_EMAILS the app was started with. */
export const ADMIN_EMAIL = 'operator@example.test';

export function signUpAdmin(api: Client): Promise<TestSession> {
  return signUp(api, { email: ADMIN_EMAIL });
}

/** Grants coins through the route; asserts the 201 and returns the transaction. */
export async function grant(api: Client, admin: TestSession, to: TestSession, coins: number, reason?: string): Promise<any> {
  const answer = await api.post('/v1/admin/grants', { handle: to.user.handle, coins, ...(reason !== undefined && { reason }) }, { token: admin.accessToken });
  assert.equal(answer.status, 201, answer.text);
  return answer.body.transaction;
}
