import { useEffect, useState } from 'preact/hooks';
import type { Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { coinsText } from './format.ts';
import { readWallet } from './purchase.ts';
import type { Wallet } from './types.ts';

/** The balance, and the debt when a refund took back coins already spent (which blocks buying). */
export function Balance() {
  const { t, locale } = useI18n();
  const [wallet, setWallet] = useState<Wallet | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    readWallet().then(setWallet, (failure: Problem) => setProblem(failure));
  }, []);
  if (problem !== null) {
    return (
      <p class="error" role="alert">
        {problemMessage(problem, t)}
      </p>
    );
  }
  if (wallet === null) return <p role="status">{t('app.loading')}</p>;
  return (
    <>
      <dl class="balance">
        <div>
          <dt>{t('wallet.balance')}</dt>
          <dd data-balance>{coinsText(wallet.balance, t, locale)}</dd>
        </div>
        {wallet.debt > 0 && (
          <div>
            <dt>{t('wallet.debt')}</dt>
            <dd class="error" data-debt>
              {coinsText(wallet.debt, t, locale)}
            </dd>
          </div>
        )}
      </dl>
      {wallet.debt > 0 && <p class="notice">{t('wallet.debtExplained')}</p>}
    </>
  );
}
