import type { ComponentChildren } from 'preact';
import { useLocation } from 'preact-iso';
import { useAccount } from '../api/use-account.ts';
import { signOut } from '../api/client.ts';
import { forgetPushSubscription } from '../live/push.ts';
import { UnreadBadge } from '../live/unread-badge.tsx';
import { useI18n } from '../i18n/i18n.tsx';
import { ROUTES } from '../routes.tsx';
import { LanguageSwitch } from './language-switch.tsx';

/** The frame around every page: a skip link, the navigation (a bar on phones, a column on wide screens), the language switch. */
export function Layout({ children }: { children: ComponentChildren }) {
  const { t } = useI18n();
  const { path, route } = useLocation();
  const { account } = useAccount();
  const links = ROUTES.filter((route) => route.nav !== undefined && (account === null ? !route.signedIn : !route.signedOutOnly));
  return (
    <div class="shell">
      <a class="skip-link" href="#main">{t('app.skipToContent')}</a>
      <header class="shell-header">
        <a class="brand" href="/">
          <img src="/favicon.svg" alt="" width="28" height="28" />
          <span>{t('app.name')}</span>
        </a>
        <nav aria-label={t('nav.label')}>
          <ul class="nav-list">
            {links.map((route) => (
              <li key={route.path}>
                <a href={route.path} aria-current={route.path === path ? 'page' : undefined}>
                  {t(route.nav!)}
                  {route.path === '/notifications' && <UnreadBadge />}
                </a>
              </li>
            ))}
            {account !== null && (
              <li>
                <button type="button" class="link-button" onClick={() => void forgetPushSubscription().then(signOut).then(() => route('/'))}>
                  {t('auth.signOut')}
                </button>
              </li>
            )}
          </ul>
        </nav>
        <LanguageSwitch />
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
