import { useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { useAccount } from '../api/use-account.ts';
import type { Post, PostMedia } from '../api/types.ts';
import { useI18n, type Translate } from '../i18n/i18n.tsx';
import { BlurhashCanvas } from '../posts/blurhash-canvas.tsx';
import { BuyDialog } from './buy-dialog.tsx';
import { coinsText } from './format.ts';
import './wallet.css';

/**
 * A paid post the viewer has not bought, in place of its media: their blurhash placeholders (Plaza
 * sends no link to the bytes), the price and the buy button. Once bought, `onChange` gets the post
 * read again (unlocked, with its media), and focus goes to the post, which now shows them.
 */
export function LockedPost({ post, onChange }: { post: Post; onChange: (post: Post) => void }) {
  const { t, locale } = useI18n();
  const { account } = useAccount();
  const { url } = useLocation();
  const [buying, setBuying] = useState(false);
  const self = useRef<HTMLDivElement>(null);

  const bought = (unlocked: Post) => {
    const card = self.current?.closest('article');
    setBuying(false);
    onChange(unlocked);
    requestAnimationFrame(() => {
      if (!card) return;
      card.tabIndex = -1;
      card.focus();
    });
  };

  return (
    <div class="locked-post" ref={self}>
      {post.media.length > 0 && <LockedMedia media={post.media} t={t} />}
      <div class="locked-bar">
        <p class="locked-price">
          <LockIcon />
          {t('wallet.lockedPrice', { coins: coinsText(post.priceCoins, t, locale) })}
        </p>
        {account === null ? (
          <a class="button" href={`/sign-in?next=${encodeURIComponent(url)}`}>
            {t('wallet.signInToBuy')}
          </a>
        ) : (
          <button type="button" onClick={() => setBuying(true)}>
            {t('wallet.buyFor', { coins: coinsText(post.priceCoins, t, locale) })}
          </button>
        )}
      </div>
      {buying && <BuyDialog post={post} onBought={bought} onDismiss={() => setBuying(false)} />}
    </div>
  );
}

/** Under a paid post the viewer can read: "bought" for a buyer, the price for its author. */
export function PaidPostBadge({ post }: { post: Post }) {
  const { t, locale } = useI18n();
  if (post.priceCoins === 0 || post.locked) return null;
  return <p class="badge">{post.purchasedByMe ? t('wallet.boughtBadge') : t('wallet.lockedPrice', { coins: coinsText(post.priceCoins, t, locale) })}</p>;
}

function LockedMedia({ media, t }: { media: PostMedia[]; t: Translate }) {
  const photos = media.filter((item) => item.kind === 'image');
  const label = (item: PostMedia) => {
    if (item.kind === 'image') return t('wallet.lockedPhoto', { index: photos.indexOf(item) + 1, count: photos.length });
    const kind = item.kind === 'video' ? t('wallet.lockedVideo') : t('wallet.lockedAudio');
    return item.durationMs === undefined ? kind : `${kind} (${duration(item.durationMs)})`;
  };
  return (
    <div class={`media-grid count-${Math.min(media.length, 4)}`}>
      {media.map((item) =>
        item.kind === 'audio' ? (
          <div key={item.id} class="locked-audio" role="img" aria-label={label(item)}>
            <LockIcon /> <span aria-hidden="true">{item.durationMs === undefined ? '' : duration(item.durationMs)}</span>
          </div>
        ) : (
          <div key={item.id} class="media locked-media" role="img" aria-label={label(item)} style={item.width && item.height ? { aspectRatio: `${item.width} / ${item.height}` } : undefined}>
            {item.blurhash !== undefined && <BlurhashCanvas hash={item.blurhash} class="media-fill" />}
            <span class="lock-mark">
              <LockIcon />
            </span>
          </div>
        ),
      )}
    </div>
  );
}

/** A padlock drawn in the text colour (an emoji would depend on the system's fonts). */
function LockIcon() {
  return (
    <svg class="lock-icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
      <path fill="currentColor" d="M4.5 7V5a3.5 3.5 0 0 1 7 0v2H12a1 1 0 0 1 1 1v6a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1h.5zm1.5 0h4V5a2 2 0 0 0-4 0v2z" />
    </svg>
  );
}

function duration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
