import { useEffect, useId, useRef, useState } from 'preact/hooks';
import type { Post, Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { coinsText } from './format.ts';
import { Modal } from './modal.tsx';
import { buyPost, newIdempotencyKey, readWallet } from './purchase.ts';
import type { Wallet } from './types.ts';

/** Refusals the wallet page can fix: the message comes with a link there. */
const FIXED_IN_WALLET = new Set(['insufficient_funds', 'wallet_in_debt']);

/**
 * The confirmation before a purchase: the price, who gets it, the buyer's balance, then one button.
 * `onBought` gets the post as Plaza now shows it to the buyer (unlocked). A refusal is explained in
 * place; a post bought already (in another tab) is handed over when the dialog closes.
 */
export function BuyDialog({ post, onBought, onDismiss }: { post: Post; onBought: (post: Post) => void; onDismiss: () => void }) {
  const { t, locale } = useI18n();
  const id = useId();
  // undefined: it could not be read, and the dialog goes without it (Plaza checks the balance anyway).
  const [wallet, setWallet] = useState<Wallet | null | undefined>(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [ownedAlready, setOwnedAlready] = useState<Post | null>(null);
  // Kept across tries only while no answer came: Plaza replays an answered key's first answer, a refusal too.
  const key = useRef(newIdempotencyKey());
  const inFlight = useRef(false);

  useEffect(() => {
    readWallet().then(setWallet, () => setWallet(undefined));
  }, []);

  const dismiss = () => (ownedAlready === null ? onDismiss() : onBought(ownedAlready));

  const confirm = async () => {
    // A second click before the button shows it is busy must not send a second purchase.
    if (inFlight.current) return;
    inFlight.current = true;
    setBusy(true);
    setProblem(null);
    const result = await buyPost(post.id, key.current);
    inFlight.current = false;
    setBusy(false);
    if (result.kind === 'bought') return onBought(result.post);
    if (result.kind === 'alreadyBought') return setOwnedAlready(result.post);
    if (result.problem.code !== 'network_error') key.current = newIdempotencyKey();
    setProblem(result.problem);
    if (FIXED_IN_WALLET.has(result.problem.code)) readWallet().then(setWallet, () => undefined);
  };

  return (
    <Modal labelledBy={`${id}-title`} describedBy={`${id}-what`} onDismiss={dismiss}>
      <h2 id={`${id}-title`}>{t('wallet.buyTitle')}</h2>
      <p id={`${id}-what`}>{t('wallet.buyWhat', { coins: coinsText(post.priceCoins, t, locale), name: post.author.name })}</p>
      {wallet !== undefined && (
        <p class="muted" data-balance>
          {wallet === null ? t('app.loading') : t('wallet.yourBalance', { coins: coinsText(wallet.balance, t, locale) })}
        </p>
      )}
      {problem !== null && (
        <p class="error" role="alert">
          {problem.code === 'not_found' ? t('wallet.postGone') : problemMessage(problem, t)}{' '}
          {FIXED_IN_WALLET.has(problem.code) && <a href="/wallet">{t('wallet.topUpLink')}</a>}
        </p>
      )}
      {ownedAlready !== null && (
        <p class="notice" role="status">
          {t('error.already_purchased')}
        </p>
      )}
      <div class="modal-actions">
        <button type="button" class="secondary" onClick={dismiss}>
          {ownedAlready === null ? t('wallet.cancel') : t('wallet.close')}
        </button>
        {ownedAlready === null && (
          <button type="button" autofocus disabled={busy} onClick={() => void confirm()}>
            {busy ? t('wallet.buying') : t('wallet.buyFor', { coins: coinsText(post.priceCoins, t, locale) })}
          </button>
        )}
      </div>
    </Modal>
  );
}
