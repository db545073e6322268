import { useLocation } from 'preact-iso';
import { useAccount } from '../api/use-account.ts';
import { signOut } from '../api/client.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { LanguageSwitch } from '../shell/language-switch.tsx';

/** The language, who is signed in, and signing out. The account settings themselves are not built yet. */
export default function Settings() {
  const { t } = useI18n();
  const { account } = useAccount();
  const { route } = useLocation();
  return (
    <section class="page">
      <h1>{t('settings.title')}</h1>
      <LanguageSwitch />
      <h2>{t('settings.account')}</h2>
      {account !== null && <p>{t('auth.signedInAs', { name: account.name, handle: account.handle })}</p>}
      <p data-not-built>{t('settings.more')}</p>
      <button type="button" onClick={() => void signOut().then(() => route('/'))}>
        {t('auth.signOut')}
      </button>
    </section>
  );
}
