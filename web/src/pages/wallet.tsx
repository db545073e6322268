import { useI18n } from '../i18n/i18n.tsx';
import { Balance } from '../wallet/balance.tsx';
import { CoinPackages } from '../wallet/packages.tsx';
import { TransactionList } from '../wallet/transactions.tsx';
import '../wallet/wallet.css';

/** The wallet: balance and debt, coin packages to top up with, the transactions; a way to the library. */
export default function WalletPage() {
  const { t } = useI18n();
  return (
    <section class="page">
      <h1>{t('nav.wallet')}</h1>
      <Balance />
      <p class="page-links">
        <a href="/library">{t('library.link')}</a>
      </p>
      <h2>{t('wallet.buyCoins')}</h2>
      <CoinPackages />
      <h2>{t('wallet.transactions')}</h2>
      <TransactionList />
    </section>
  );
}
