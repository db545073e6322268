import { useState } from 'preact/hooks';
import { api } from '../api/client.ts';
import { useAccount } from '../api/use-account.ts';
import type { Post, PostMedia } from '../api/types.ts';
import { useI18n, type Translate } from '../i18n/i18n.tsx';
import { LockedPost, PaidPostBadge } from '../wallet/locked-post.tsx';
import { BlurhashCanvas } from './blurhash-canvas.tsx';
import { DeletePostButton } from '../likes/delete-post.tsx';
import { LikersDialog } from '../likes/likers-dialog.tsx';
import '../likes/post-actions.css';

/** One post: author, time, text, media (nothing plays by itself), the like button with its count (opening the likers), and the author's delete. */
export function PostCard({ post, onChange, onDelete }: { post: Post; onChange: (post: Post) => void; onDelete?: (post: Post) => void }) {
  const { t, locale } = useI18n();
  const { account } = useAccount();
  const created = new Date(post.createdAt);
  return (
    <article class="post" aria-label={t('post.by', { name: post.author.name })}>
      <header class="post-header">
        {post.author.avatarUrl !== null ? <img class="avatar" src={post.author.avatarUrl} alt="" width="40" height="40" loading="lazy" /> : <span class="avatar" aria-hidden="true" />}
        <span class="author">
          <a class="author-link" href={`/u/${encodeURIComponent(post.author.handle)}`}>
            <strong>{post.author.name}</strong> <span class="muted">@{post.author.handle}</span>
          </a>
        </span>
        <time class="muted" dateTime={post.createdAt} title={created.toLocaleString(locale)}>
          {relativeTime(created, locale)}
        </time>
      </header>
      {post.visibility === 'followers' && <p class="badge">{t('post.followersOnly')}</p>}
      <PaidPostBadge post={post} />
      {post.text !== '' && <p class="post-text">{post.text}</p>}
      {post.locked ? <LockedPost post={post} onChange={onChange} /> : post.media.length > 0 && <MediaGrid media={post.media} t={t} />}
      <footer class="post-footer">
        <LikeButton post={post} onChange={onChange} />
        {onDelete !== undefined && account?.id === post.author.id && <DeletePostButton post={post} onDeleted={onDelete} />}
      </footer>
    </article>
  );
}

function MediaGrid({ media, t }: { media: PostMedia[]; t: Translate }) {
  const photos = media.filter((item) => item.kind === 'image');
  return (
    <div class={`media-grid count-${Math.min(media.length, 4)}`}>
      {media.map((item) => (
        <MediaItem key={item.id} item={item} label={item.kind === 'image' ? t('post.photo', { index: photos.indexOf(item) + 1, count: photos.length }) : t(`post.${item.kind}`)} t={t} />
      ))}
    </div>
  );
}

function MediaItem({ item, label, t }: { item: PostMedia; label: string; t: Translate }) {
  const url = 'url' in item ? item.url : undefined;
  const thumbnail = 'thumbnailUrl' in item ? item.thumbnailUrl : undefined;
  const [loaded, setLoaded] = useState(false);
  const ratio = item.width !== undefined && item.height !== undefined ? `${item.width} / ${item.height}` : undefined;
  if (item.kind === 'audio') {
    return url === undefined ? <p class="muted">{t('post.processing')}</p> : <audio class="media" controls preload="none" src={url} aria-label={label} />;
  }
  return (
    <figure class="media" style={ratio === undefined ? undefined : { aspectRatio: ratio }}>
      {item.blurhash !== undefined && !loaded && <BlurhashCanvas hash={item.blurhash} class="media-fill" />}
      {item.kind === 'image' && url !== undefined && (
        <img class="media-fill" src={thumbnail ?? url} alt={label} loading="lazy" decoding="async" onLoad={() => setLoaded(true)} />
      )}
      {item.kind === 'video' && url !== undefined && (
        <video class="media-fill" controls preload="metadata" playsInline poster={thumbnail} src={url} aria-label={label} onLoadedData={() => setLoaded(true)} />
      )}
      {url === undefined && item.blurhash === undefined && <figcaption class="muted">{t('post.processing')}</figcaption>}
    </figure>
  );
}

/** Like and unlike at once on screen, then at the API; put back if the API refuses. */
function LikeButton({ post, onChange }: { post: Post; onChange: (post: Post) => void }) {
  const { t } = useI18n();
  const { account } = useAccount();
  const [busy, setBusy] = useState(false);
  const [showLikers, setShowLikers] = useState(false);
  const toggle = async () => {
    setBusy(true);
    const liked = !post.likedByMe;
    onChange({ ...post, likedByMe: liked, likeCount: post.likeCount + (liked ? 1 : -1) });
    const options = { params: { path: { id: post.id } } };
    const { response } = liked ? await api.PUT('/v1/posts/{id}/like', options) : await api.DELETE('/v1/posts/{id}/like', options);
    if (!response.ok) onChange(post);
    setBusy(false);
  };
  return (
    <div class="likes">
      {account !== null && (
        <button type="button" class="like-button" aria-pressed={post.likedByMe} disabled={busy} onClick={() => void toggle()}>
          {post.likedByMe ? t('post.unlike') : t('post.like')}
        </button>
      )}
      {post.likeCount > 0 ? (
        <button type="button" class="link-like" data-like-count aria-haspopup="dialog" onClick={() => setShowLikers(true)}>
          {t('post.likes', { count: post.likeCount })}
        </button>
      ) : (
        <span class="muted" data-like-count>
          {t('post.likes', { count: post.likeCount })}
        </span>
      )}
      {showLikers && <LikersDialog postId={post.id} onClose={() => setShowLikers(false)} />}
    </div>
  );
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 31_536_000],
  ['month', 2_592_000],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
];

function relativeTime(date: Date, locale: string): string {
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  for (const [unit, size] of UNITS) if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  return format.format(seconds, 'second');
}
