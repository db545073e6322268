import { useState } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import type { Post } from '../api/types.ts';
import { ConfirmDialog } from '../dialog/modal.tsx';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';

/** The author's "Delete" on their post, asking first; `onDeleted` takes the post off the list. */
export function DeletePostButton({ post, onDeleted }: { post: Post; onDeleted: (post: Post) => void }) {
  const { t } = useI18n();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const { error: problem, response } = await api.DELETE('/v1/posts/{id}', { params: { path: { id: post.id } } });
      // Already gone (another tab deleted it) is what was asked for.
      if (response.ok || response.status === 404) return onDeleted(post);
      setError(problemMessage(problemOf(problem, response), t));
    } catch {
      setError(problemMessage(problemOf(undefined, undefined), t));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class="secondary post-delete" onClick={() => setAsking(true)}>
        {t('post.delete')}
      </button>
      {asking && <ConfirmDialog title={t('post.deleteTitle')} body={t('post.deleteBody')} confirmLabel={t('post.delete')} busy={busy} error={error} onConfirm={() => void confirm()} onClose={() => setAsking(false)} />}
    </>
  );
}
