import { useState } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import { updateAccount } from '../api/session.ts';
import { useAccount } from '../api/use-account.ts';
import type { Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { Avatar } from './avatar.tsx';

/** The types PUT /v1/account/avatar takes (API.md); Plaza sniffs the bytes, this only filters the file picker. */
const AVATAR_TYPES = 'image/jpeg,image/png,image/webp,image/gif,image/avif';

/** Your picture: choose a file and it is uploaded at once (the new one shows when Plaza has it), or remove it. */
export function AvatarEditor() {
  const { t } = useI18n();
  const { account } = useAccount();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  if (account === null) return null;

  const run = async (change: () => Promise<Problem | null>, done: string) => {
    setBusy(true);
    setProblem(null);
    setStatus(null);
    try {
      const failure = await change();
      if (failure === null) setStatus(done);
      else setProblem(failure);
    } catch {
      setProblem(problemOf(undefined, undefined));
    } finally {
      setBusy(false);
    }
  };
  const upload = (file: File) =>
    run(async () => {
      const { data, error, response } = await api.PUT('/v1/account/avatar', { body: file, bodySerializer: (body) => body, headers: { 'content-type': file.type || 'application/octet-stream' } });
      if (data === undefined) return problemOf(error, response);
      updateAccount(data);
      return null;
    }, t('profile.avatarSaved'));
  const remove = () =>
    run(async () => {
      const removed = await api.DELETE('/v1/account/avatar');
      if (!removed.response.ok) return problemOf(removed.error, removed.response);
      const { data, error, response } = await api.GET('/v1/account');
      if (data === undefined) return problemOf(error, response);
      updateAccount(data);
      return null;
    }, t('profile.avatarRemoved'));

  return (
    <div class="stack">
      <div class="avatar-edit">
        <Avatar user={account} large alt={account.avatarUrl === null ? '' : t('profile.yourAvatar')} />
        <label class="button secondary">
          {t('profile.chooseAvatar')}
          <input
            class="visually-hidden"
            type="file"
            accept={AVATAR_TYPES}
            disabled={busy}
            onChange={(event) => {
              const file = event.currentTarget.files?.[0];
              event.currentTarget.value = '';
              if (file !== undefined) void upload(file);
            }}
          />
        </label>
        {account.avatarUrl !== null && (
          <button type="button" class="secondary" disabled={busy} onClick={() => void remove()}>
            {t('profile.removeAvatar')}
          </button>
        )}
      </div>
      {busy && <p role="status">{t('profile.avatarUploading')}</p>}
      {status !== null && <p role="status" class="muted">{status}</p>}
      {problem !== null && (
        <p class="error" role="alert">
          {problemMessage(problem, t)}
        </p>
      )}
    </div>
  );
}
