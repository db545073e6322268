import { useLocation } from 'preact-iso';
import { useAccount } from '../api/use-account.ts';
import { signOut } from '../api/client.ts';
import { ChangePassword } from '../account/change-password.tsx';
import { DeleteAccount } from '../account/delete-account.tsx';
import { LinkedProviders } from '../account/linked-providers.tsx';
import { useI18n } from '../i18n/i18n.tsx';
import { LanguageSwitch } from '../shell/language-switch.tsx';
import '../account/account-settings.css';

/** The language, who is signed in and signing out; the password, linked sign-in providers, and deleting the account. */
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
      <button type="button" onClick={() => void signOut().then(() => route('/'))}>
        {t('auth.signOut')}
      </button>
      <div class="settings-section">
        <ChangePassword />
      </div>
      <div class="settings-section">
        <LinkedProviders />
      </div>
      <div class="settings-section">
        <DeleteAccount />
      </div>
    </section>
  );
}
