import { useCallback } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import type { Page } from '../api/types.ts';
import type { MessageKey } from '../i18n/en.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { usePagedList } from '../posts/use-paged-list.ts';
import { formatAmount, formatCoins } from './format.ts';
import type { Transaction } from './types.ts';

const PAGE_SIZE = 20;

const TYPE_LABELS: Record<Transaction['type'], MessageKey> = {
  topup: 'wallet.type.topup',
  purchase: 'wallet.type.purchase',
  sale: 'wallet.type.sale',
  fee: 'wallet.type.fee',
  grant: 'wallet.type.grant',
  refund: 'wallet.type.refund',
  debt: 'wallet.type.debt',
};

/** The wallet's movements, newest first, a page at a time. */
export function TransactionList() {
  const { t, locale } = useI18n();
  const fetchPage = useCallback(async (cursor: string | undefined): Promise<Page<Transaction>> => {
    const { data, error, response } = await api.GET('/v1/wallet/transactions', { params: { query: { limit: PAGE_SIZE, ...(cursor !== undefined && { cursor }) } } });
    if (data === undefined) throw problemOf(error, response);
    return data;
  }, []);
  const list = usePagedList(fetchPage);
  return (
    <div class="stack">
      <ul class="transactions" aria-busy={list.loading}>
        {list.items.map((item) => (
          <li key={item.id} data-type={item.type}>
            <span>{t(TYPE_LABELS[item.type])}</span>
            <span class="amount">{formatAmount(item.amount, locale)}</span>
            <time class="muted" dateTime={item.createdAt}>
              {new Date(item.createdAt).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' })}
            </time>
            <span class="muted">{t('wallet.balanceAfter', { balance: formatCoins(item.balanceAfter, locale) })}</span>
          </li>
        ))}
      </ul>
      {list.done && list.items.length === 0 && <p class="muted">{t('wallet.noTransactions')}</p>}
      {list.problem !== null && (
        <p class="error" role="alert">
          {problemMessage(list.problem, t)}{' '}
          <button type="button" onClick={() => void list.loadMore()}>
            {t('timeline.retry')}
          </button>
        </p>
      )}
      {!list.done && list.problem === null && (
        <div ref={list.sentinel}>
          <button type="button" class="secondary" disabled={list.loading} onClick={() => void list.loadMore()}>
            {list.loading ? t('app.loading') : t('wallet.moreTransactions')}
          </button>
        </div>
      )}
    </div>
  );
}
