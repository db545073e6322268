import { useEffect, useState } from 'preact/hooks';
import { refreshSession } from './client.ts';
import { currentAccount, onAccountChange, storedRefreshToken } from './session.ts';
import type { Account } from './types.ts';

/**
 * The signed-in account for components, re-rendering them when it changes. `restoring` is true while
 * a session kept from an earlier visit is being resumed (one refresh at start-up), so pages wait
 * instead of flashing their signed-out view.
 */
let restoring = storedRefreshToken() !== null;
const restored = restoring ? refreshSession().finally(() => (restoring = false)) : Promise.resolve();

export function useAccount(): { account: Account | null; restoring: boolean } {
  const [account, setAccount] = useState(currentAccount);
  const [waiting, setWaiting] = useState(restoring);
  useEffect(() => {
    const stop = onAccountChange(setAccount);
    // A change between the first render and this subscription (a resumed session coming back) would be missed.
    setAccount(currentAccount());
    if (waiting) void restored.then(() => setWaiting(false));
    return stop;
  }, []);
  return { account, restoring: waiting };
}
