import type { Translate } from '../i18n/i18n.tsx';

/** "1 coin", "1,200 coins", "1,200코인": the plural form the locale's rules pick. */
export function coinsText(coins: number, t: Translate, locale: string): string {
  return t(new Intl.PluralRules(locale).select(coins) === 'one' ? 'wallet.coin' : 'wallet.coins', { count: formatCoins(coins, locale) });
}

/** Whole coins with the locale's grouping (1,200 / 1,200). */
export function formatCoins(coins: number, locale: string): string {
  return new Intl.NumberFormat(locale).format(coins);
}

/** A signed ledger amount: +100, −30. */
export function formatAmount(coins: number, locale: string): string {
  return new Intl.NumberFormat(locale, { signDisplay: 'exceptZero' }).format(coins);
}

/** A package's price, given in the currency's minor unit (cents for USD, whole won for KRW). */
export function formatPrice(amount: number, currency: string, locale: string): string {
  try {
    const format = new Intl.NumberFormat(locale, { style: 'currency', currency });
    return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
  } catch {
    // A currency code Intl does not know (operator's configuration): the plain figures rather than nothing.
    return `${amount} ${currency}`;
  }
}
