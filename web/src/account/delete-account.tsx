import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, problemOf } from '../api/client.ts';
import { endSession } from '../api/session.ts';
import { useAccount } from '../api/use-account.ts';
import { ConfirmDialog } from '../dialog/modal.tsx';
import { useI18n } from '../i18n/i18n.tsx';
import { Field } from '../pages/auth-form.tsx';
import { confirmationProblem } from './confirmation-problem.ts';

/**
 * Deleting the account, after a confirmation: the password, or for an account without one a recent
 * sign-in at its provider (an older session is told to sign in again). Plaza has then ended every
 * session, so this one is only forgotten here.
 */
export function DeleteAccount() {
  const { t } = useI18n();
  const { account } = useAccount();
  const { route } = useLocation();
  const [asking, setAsking] = useState(false);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (account === null) return null;
  const hasPassword = account.providers.includes('password');

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const { error: problem, response } = await api.DELETE('/v1/account', hasPassword ? { body: { password } } : {});
      if (!response.ok) return setError(confirmationProblem(problemOf(problem, response), t));
      endSession();
      route('/', true);
    } catch {
      setError(confirmationProblem(problemOf(undefined, undefined), t));
    } finally {
      setBusy(false);
    }
  };
  const close = () => {
    setAsking(false);
    setPassword('');
    setError(null);
  };

  return (
    <section aria-labelledby="delete-title" class="stack">
      <h2 id="delete-title">{t('settings.deleteTitle')}</h2>
      <p>{t('settings.deleteExplained')}</p>
      <div>
        <button type="button" class="danger" onClick={() => setAsking(true)}>
          {t('settings.deleteAccount')}
        </button>
      </div>
      {asking && (
        <ConfirmDialog title={t('settings.deleteTitle')} body={hasPassword ? t('settings.deleteConfirmPassword') : t('settings.deleteConfirmSocial')} confirmLabel={t('settings.deleteForever')} busy={busy} error={error} onConfirm={() => void confirm()} onClose={close}>
          {hasPassword && <Field id="delete-password" type="password" label={t('auth.password')} value={password} onInput={setPassword} autocomplete="current-password" required />}
        </ConfirmDialog>
      )}
    </section>
  );
}
