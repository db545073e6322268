import { useCallback } from 'preact/hooks';
import { api } from '../api/client.ts';
import { Modal } from '../dialog/modal.tsx';
import { useI18n } from '../i18n/i18n.tsx';
import { UserList, type UserPageFetch } from '../profiles/user-list.tsx';
import '../profiles/profiles.css';

/** Who liked a post, newest first, a page at a time. */
export function LikersDialog({ postId, onClose }: { postId: string; onClose: () => void }) {
  const { t } = useI18n();
  const fetch = useCallback<UserPageFetch>((query) => api.GET('/v1/posts/{id}/likes', { params: { path: { id: postId }, query } }), [postId]);
  return (
    <Modal title={t('likes.title')} onClose={onClose}>
      <UserList fetch={fetch} empty={t('likes.none')} label={t('likes.title')} />
    </Modal>
  );
}
