import { useRef, useState } from 'preact/hooks';
import { api } from '../api/client.ts';
import { useAccount } from '../api/use-account.ts';
import type { Post } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { useLiveEvent } from './use-live-event.ts';
import './live.css';

/**
 * Above the home timeline: posts that arrived live, as one button ("3 new posts") rather than moving
 * what the reader is looking at. Pressing it fetches them (the stream only names them), puts them at
 * the top and moves focus to the newest. After a reset (events missed), the button brings the
 * timeline's newest page instead.
 */
export function NewPosts({ shown, onShow }: { shown: readonly Post[]; onShow: (posts: Post[]) => void }) {
  const { t } = useI18n();
  const { account } = useAccount();
  const [arrived, setArrived] = useState<string[]>([]);
  const [missed, setMissed] = useState(false);
  const [busy, setBusy] = useState(false);
  const region = useRef<HTMLDivElement>(null);

  useLiveEvent((event) => {
    if (event.type === 'reset') setMissed(true);
    // Your own posts are on screen already (composing restarts the timeline).
    else if (event.type === 'post' && event.post.authorId !== account?.id) setArrived((ids) => (ids.includes(event.post.id) ? ids : [...ids, event.post.id]));
  });

  const shownIds = new Set(shown.map((post) => post.id));
  const waiting = arrived.filter((id) => !shownIds.has(id));
  const show = async () => {
    setBusy(true);
    const posts = missed ? await newestPage() : await Promise.all(waiting.map(fetchPost));
    const fresh = posts.filter((post): post is Post => post !== null && !shownIds.has(post.id));
    fresh.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    setArrived([]);
    setMissed(false);
    setBusy(false);
    onShow(fresh);
    // The button is gone: focus goes to the newest post, so a keyboard reader carries on from there.
    requestAnimationFrame(() => {
      const first = region.current?.parentElement?.querySelector<HTMLElement>('.posts article');
      first?.setAttribute('tabindex', '-1');
      first?.focus();
    });
  };

  const count = waiting.length;
  return (
    <div class="new-posts" ref={region} aria-live="polite">
      {(count > 0 || missed) && (
        <button type="button" class="new-posts-button" disabled={busy} onClick={() => void show()}>
          {missed ? t('live.newPostsMissed') : t(count === 1 ? 'live.newPosts.one' : 'live.newPosts.other', { count })}
        </button>
      )}
    </div>
  );
}

async function fetchPost(id: string): Promise<Post | null> {
  // A post deleted (or made unseeable) since it arrived answers 404: it is simply not shown.
  const { data } = await api.GET('/v1/posts/{id}', { params: { path: { id } } }).catch(() => ({ data: undefined }));
  return data ?? null;
}

async function newestPage(): Promise<Post[]> {
  const { data } = await api.GET('/v1/timelines/home', { params: { query: { limit: 20 } } }).catch(() => ({ data: undefined }));
  return data?.items ?? [];
}
