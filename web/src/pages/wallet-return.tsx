import { useLocation } from 'preact-iso';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { Balance } from '../wallet/balance.tsx';
import { coinsText } from '../wallet/format.ts';
import { useTopupStatus } from '../wallet/use-topup-status.ts';
import '../wallet/wallet.css';

/**
 * Where Stripe Checkout sends the buyer back (PAYMENTS_RETURN_URL, `?topup=<id>&result=success|cancel`):
 * the top-up's status until the payment settles, then the balance.
 */
export default function WalletReturn() {
  const { t } = useI18n();
  const { query } = useLocation();
  const topupId = query.topup;
  return (
    <section class="page">
      <h1>{t('wallet.returnTitle')}</h1>
      {topupId === undefined || topupId === '' ? (
        <p class="error" role="alert">
          {t('wallet.returnNoTopup')}
        </p>
      ) : query.result === 'cancel' ? (
        <p class="notice" role="status">
          {t('wallet.returnCancelled')}
        </p>
      ) : (
        <TopupStatus id={topupId} />
      )}
      <p class="page-links">
        <a href="/wallet">{t('wallet.backToWallet')}</a>
      </p>
    </section>
  );
}

function TopupStatus({ id }: { id: string }) {
  const { t, locale } = useI18n();
  const { topup, problem, stillPending } = useTopupStatus(id);
  const coins = topup === null ? '' : coinsText(topup.coins, t, locale);
  return (
    <div class="stack">
      {(topup !== null || problem === null) && (
      <p class={topup?.status === 'failed' ? 'notice error' : 'notice'} role="status" data-topup-status={topup?.status ?? 'loading'}>
        {topup === null && t('app.loading')}
        {topup?.status === 'pending' && (stillPending ? t('wallet.topupStillPending', { coins }) : t('wallet.topupPending', { coins }))}
        {topup?.status === 'credited' && t('wallet.topupCredited', { coins })}
        {topup?.status === 'failed' && t('wallet.topupFailed')}
        {topup?.status === 'refunded' && t('wallet.topupRefunded', { coins })}
      </p>
      )}
      {problem !== null && (
        <p class="error" role="alert">
          {problem.code === 'not_found' ? t('wallet.topupNotFound') : problemMessage(problem, t)}
        </p>
      )}
      {topup?.status === 'credited' && <Balance />}
    </div>
  );
}
