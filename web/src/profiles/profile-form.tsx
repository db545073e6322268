import { useState } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import { updateAccount } from '../api/session.ts';
import { useAccount } from '../api/use-account.ts';
import type { Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { Field } from '../pages/auth-form.tsx';
import { graphemeCount } from '../posts/graphemes.ts';

/** API.md: a bio is at most 160 characters. */
const BIO_MAX = 160;

/** Name, handle and bio (PATCH /v1/account, only what changed). */
export function ProfileForm() {
  const { t } = useI18n();
  const { account } = useAccount();
  const [name, setName] = useState(account?.name ?? '');
  const [handle, setHandle] = useState(account?.handle ?? '');
  const [bio, setBio] = useState(account?.bio ?? '');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState(false);
  if (account === null) return null;
  const bioLength = graphemeCount(bio);
  const changes = { ...(name !== account.name && { name }), ...(handle !== account.handle && { handle }), ...(bio !== account.bio && { bio }) };

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    setSaved(false);
    try {
      const { data, error, response } = await api.PATCH('/v1/account', { body: changes });
      if (data === undefined) return setProblem(problemOf(error, response));
      updateAccount(data);
      setSaved(true);
    } catch {
      setProblem(problemOf(undefined, undefined));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="stack" onSubmit={submit}>
      <Field id="profile-name" label={t('auth.name')} value={name} onInput={setName} autocomplete="name" required maxLength={50} />
      <Field id="profile-handle" label={t('profile.handle')} hint={t('profile.handleHint')} value={handle} onInput={setHandle} autocomplete="username" required pattern="[a-z0-9_]{3,30}" />
      <div class="field">
        <label for="profile-bio">{t('profile.bio')}</label>
        <textarea id="profile-bio" rows={3} value={bio} onInput={(event) => setBio(event.currentTarget.value)} aria-describedby="profile-bio-count" />
        <small id="profile-bio-count" class={bioLength > BIO_MAX ? 'hint error' : 'hint'} aria-live="polite">
          {t('compose.count', { count: bioLength, max: BIO_MAX })}
        </small>
      </div>
      {problem !== null && (
        <p class="error" role="alert">
          {problemMessage(problem, t)}
        </p>
      )}
      {saved && (
        <p class="muted" role="status">
          {t('profile.saved')}
        </p>
      )}
      <div>
        <button type="submit" disabled={busy || Object.keys(changes).length === 0 || bioLength > BIO_MAX}>
          {t('profile.save')}
        </button>
      </div>
    </form>
  );
}
