import { useId } from 'preact/hooks';
import { useI18n } from '../i18n/i18n.tsx';
import './compose-options.css';

/** API.md: `priceCoins` is 0..1000000 (0 is free). */
const MAX_PRICE_COINS = 1_000_000;

/** Who may see a post and what it costs, the price as typed (text until it is a valid whole number). */
export type PostOptions = { visibility: 'public' | 'followers'; price: string };

export const DEFAULT_POST_OPTIONS: PostOptions = { visibility: 'public', price: '' };

/** The price in coins, or null while the text is not a whole number in range; empty is free. */
export function priceCoins(options: PostOptions): number | null {
  const text = options.price.trim();
  if (text === '') return 0;
  if (!/^\d{1,7}$/.test(text)) return null;
  const coins = Number(text);
  return coins <= MAX_PRICE_COINS ? coins : null;
}

/** The fields POST /v1/posts takes for these options; defaults are left out. */
export function postOptionsBody(options: PostOptions): { visibility?: 'followers'; priceCoins?: number } {
  const coins = priceCoins(options) ?? 0;
  return { ...(options.visibility === 'followers' && { visibility: 'followers' }), ...(coins > 0 && { priceCoins: coins }) };
}

/** The compose form's visibility and price fields. */
export function ComposeOptions({ options, onChange, disabled }: { options: PostOptions; onChange: (options: PostOptions) => void; disabled: boolean }) {
  const { t } = useI18n();
  const id = useId();
  const invalidPrice = priceCoins(options) === null;
  return (
    <div class="compose-options">
      <div class="field">
        <label for={`${id}-visibility`}>{t('compose.visibility')}</label>
        <select id={`${id}-visibility`} value={options.visibility} disabled={disabled} onChange={(event) => onChange({ ...options, visibility: event.currentTarget.value as PostOptions['visibility'] })}>
          <option value="public">{t('compose.visibilityPublic')}</option>
          <option value="followers">{t('compose.visibilityFollowers')}</option>
        </select>
      </div>
      <div class="field">
        <label for={`${id}-price`}>{t('compose.price')}</label>
        <input
          id={`${id}-price`}
          type="number"
          min={0}
          max={MAX_PRICE_COINS}
          step={1}
          placeholder="0"
          value={options.price}
          disabled={disabled}
          aria-invalid={invalidPrice}
          aria-describedby={`${id}-price-hint`}
          onInput={(event) => onChange({ ...options, price: event.currentTarget.value })}
        />
        <small id={`${id}-price-hint`} class={invalidPrice ? 'hint error' : 'hint'}>
          {t('compose.priceHint', { max: MAX_PRICE_COINS.toLocaleString() })}
        </small>
      </div>
    </div>
  );
}
