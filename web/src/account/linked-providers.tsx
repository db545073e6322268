import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, problemOf } from '../api/client.ts';
import { accessToken } from '../api/session.ts';
import { useAccount } from '../api/use-account.ts';
import type { Problem, Provider } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { AUTH_RETURN_PATH } from '../routes.tsx';
import { refreshAccount } from './refresh-account.ts';

/**
 * The ways to sign in: the password (if set) and each configured provider, linked or not. Linking
 * is the web sign-in with `link=true`, coming back to AUTH_RETURN_PATH with `#linked=`; unlinking is
 * refused with `409 last_sign_in_method` when it would leave no way in, which is said plainly.
 */
export function LinkedProviders() {
  const { t } = useI18n();
  const { account } = useAccount();
  // Back from linking: auth-return.tsx sends the browser here with `?linked=<provider>`.
  const { query } = useLocation();
  const [configured, setConfigured] = useState<Provider[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    void refreshAccount();
    void api.GET('/v1/auth/providers').then(({ data }) => setConfigured(data?.providers ?? []));
  }, []);
  if (account === null) return null;
  const linked = account.providers.filter((id) => id !== 'password');
  // A provider linked earlier but no longer configured can still be unlinked.
  const rows = [...(configured ?? []), ...linked.filter((id) => !configured?.some((provider) => provider.id === id)).map((id) => ({ id, name: id }))];

  const unlink = async (provider: string) => {
    setBusy(true);
    setProblem(null);
    try {
      const { error, response } = await api.DELETE('/v1/account/identities/{provider}', { params: { path: { provider } } });
      if (!response.ok) setProblem(problemOf(error, response));
      await refreshAccount();
    } catch {
      setProblem(problemOf(undefined, undefined));
    } finally {
      setBusy(false);
    }
  };
  // The browser navigates away itself, so the access token goes in the query (README "Web sign-in"); it is built at the click, never left in the page.
  const link = (provider: string) => {
    const query = new URLSearchParams({ redirect_uri: new URL(AUTH_RETURN_PATH, location.origin).href, link: 'true', access_token: accessToken() ?? '' });
    location.assign(`/v1/auth/oauth/${encodeURIComponent(provider)}/authorize?${query}`);
  };

  return (
    <section aria-labelledby="providers-title" class="stack">
      <h2 id="providers-title">{t('settings.providersTitle')}</h2>
      {query.linked !== undefined && linked.includes(query.linked) && (
        <p class="notice" role="status">
          {t('settings.linked', { provider: rows.find((provider) => provider.id === query.linked)?.name ?? query.linked })}
        </p>
      )}
      <ul class="provider-list">
        <li data-provider="password">
          <span>{t('settings.passwordMethod')}</span>
          <span class="muted">{account.providers.includes('password') ? t('settings.passwordSet') : t('settings.passwordNotSet')}</span>
        </li>
        {rows.map((provider) => (
          <li key={provider.id} data-provider={provider.id}>
            <span>{provider.name}</span>
            {linked.includes(provider.id) ? (
              <button type="button" class="secondary" disabled={busy} onClick={() => void unlink(provider.id)}>
                {t('settings.unlink', { provider: provider.name })}
              </button>
            ) : (
              <button type="button" class="secondary" disabled={busy} onClick={() => link(provider.id)}>
                {t('settings.link', { provider: provider.name })}
              </button>
            )}
          </li>
        ))}
      </ul>
      {configured?.length === 0 && linked.length === 0 && <p class="muted">{t('settings.noProviders')}</p>}
      {problem !== null && (
        <p class="error" role="alert">
          {problemMessage(problem, t)}
        </p>
      )}
    </section>
  );
}
