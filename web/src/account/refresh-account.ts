import { api } from '../api/client.ts';
import { updateAccount } from '../api/session.ts';

/** Reads the account again after a change elsewhere (a password set, a provider unlinked), so `providers` is current. */
export async function refreshAccount(): Promise<void> {
  const { data } = await api.GET('/v1/account');
  if (data !== undefined) updateAccount(data);
}
