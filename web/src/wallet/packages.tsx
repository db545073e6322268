import { useEffect, useState } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import type { Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { coinsText, formatPrice } from './format.ts';
import type { CoinPackage } from './types.ts';

/** Only a web address leaves the app: never a javascript: or data: one, whatever an answer said. */
function isWebAddress(url: string): boolean {
  try {
    return /^https?:$/.test(new URL(url).protocol);
  } catch {
    return false;
  }
}

/**
 * The coin packages on sale (GET /v1/wallet/packages, the operator's COIN_PACKAGES). Choosing one
 * opens a top-up and goes to its Stripe Checkout page, which sends the buyer back to /wallet/return.
 */
export function CoinPackages() {
  const { t, locale } = useI18n();
  const [packages, setPackages] = useState<CoinPackage[] | null>(null);
  const [opening, setOpening] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  useEffect(() => {
    api.GET('/v1/wallet/packages').then(
      ({ data, error, response }) => (data === undefined ? setProblem(problemOf(error, response)) : setPackages(data.packages)),
      () => setProblem(problemOf(undefined, undefined)),
    );
  }, []);

  const topUp = async (packageId: string) => {
    setOpening(packageId);
    setProblem(null);
    const opened = await api.POST('/v1/wallet/topups', { body: { packageId } }).catch(() => undefined);
    if (opened?.data !== undefined && isWebAddress(opened.data.checkoutUrl)) return location.assign(opened.data.checkoutUrl);
    setProblem(opened === undefined ? problemOf(undefined, undefined) : opened.data === undefined ? problemOf(opened.error, opened.response) : { status: 0, code: 'unexpected_answer' });
    setOpening(null);
  };

  return (
    <div class="stack">
      {packages === null && problem === null && <p role="status">{t('app.loading')}</p>}
      {packages !== null && packages.length === 0 && <p class="muted">{t('wallet.noPackages')}</p>}
      {packages !== null && packages.length > 0 && (
        <ul class="packages">
          {packages.map((item) => {
            const coins = coinsText(item.coins, t, locale);
            const price = formatPrice(item.amount, item.currency, locale);
            return (
              <li key={item.id}>
                <button type="button" class="secondary" disabled={opening !== null} onClick={() => void topUp(item.id)}>
                  <span>{coins}</span> <span class="price">{opening === item.id ? t('wallet.openingCheckout') : price}</span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {problem !== null && (
        <p class="error" role="alert">
          {problemMessage(problem, t)}
        </p>
      )}
    </div>
  );
}
