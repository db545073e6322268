import { useState } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import { useAccount } from '../api/use-account.ts';
import type { Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { Field } from '../pages/auth-form.tsx';
import { confirmationProblem } from './confirmation-problem.ts';
import { refreshAccount } from './refresh-account.ts';

/**
 * Changing the password (the current one confirms it), or setting a first one on an account made by
 * a social sign-in (a recent sign-in confirms it instead). Plaza signs out every other session.
 */
export function ChangePassword() {
  const { t } = useI18n();
  const { account } = useAccount();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [done, setDone] = useState(false);
  if (account === null) return null;
  const hasPassword = account.providers.includes('password');

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    setDone(false);
    try {
      const { error, response } = await api.PUT('/v1/account/password', { body: { newPassword: next, ...(hasPassword && { currentPassword: current }) } });
      if (!response.ok) return setProblem(problemOf(error, response));
      setCurrent('');
      setNext('');
      setDone(true);
      if (!hasPassword) await refreshAccount();
    } catch {
      setProblem(problemOf(undefined, undefined));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="stack" onSubmit={submit} aria-labelledby="password-title">
      <h2 id="password-title">{hasPassword ? t('settings.passwordTitle') : t('settings.setPasswordTitle')}</h2>
      {hasPassword && <Field id="current-password" type="password" label={t('settings.currentPassword')} value={current} onInput={setCurrent} autocomplete="current-password" required />}
      <Field id="new-password" type="password" label={t('settings.newPassword')} hint={t('auth.passwordHint')} value={next} onInput={setNext} autocomplete="new-password" required minLength={8} maxLength={256} />
      {problem !== null && (
        <p class="error" role="alert">
          {confirmationProblem(problem, t)}
        </p>
      )}
      {done && (
        <p class="muted" role="status">
          {t('settings.passwordChanged')}
        </p>
      )}
      <div>
        <button type="submit" disabled={busy}>
          {hasPassword ? t('settings.changePassword') : t('settings.setPassword')}
        </button>
      </div>
    </form>
  );
}
