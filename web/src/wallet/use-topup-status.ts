import { useEffect, useState } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import type { Problem } from '../api/types.ts';
import type { Topup } from './types.ts';

/** Asked again after 1 s, then each time half as long again, up to every 5 s. */
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 5_000;
/** Stripe reports most payments within seconds; past this the page says the coins will come later. */
const GIVE_UP_MS = 3 * 60_000;

/**
 * A top-up's status, read (GET /v1/wallet/topups/{id}) until it settles: credited, failed or
 * refunded. Checkout sends the buyer back before Stripe's webhook may have reached Plaza, so
 * `pending` on arrival is normal. A refusal (404: not this user's top-up) ends the polling; a lost
 * connection or a 429/5xx is tried again.
 */
export function useTopupStatus(id: string): { topup: Topup | null; problem: Problem | null; stillPending: boolean } {
  const [topup, setTopup] = useState<Topup | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [stillPending, setStillPending] = useState(false);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const started = Date.now();
    const poll = async (delay: number) => {
      const answer = await api.GET('/v1/wallet/topups/{id}', { params: { path: { id } } }).catch(() => undefined);
      if (stopped) return;
      if (answer?.data !== undefined) {
        setProblem(null);
        setTopup(answer.data);
        if (answer.data.status !== 'pending') return;
      } else {
        const failure = problemOf(answer?.error, answer?.response);
        setProblem(failure);
        if (failure.status >= 400 && failure.status < 500 && failure.status !== 429) return;
      }
      if (Date.now() - started > GIVE_UP_MS) return setStillPending(true);
      timer = setTimeout(() => void poll(Math.min(delay * 1.5, MAX_DELAY_MS)), delay);
    };
    void poll(FIRST_DELAY_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [id]);
  return { topup, problem, stillPending };
}
