import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { startSession } from '../api/session.ts';
import type { Account } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';

/**
 * Where the social sign-in lands: Plaza's callback sends the browser here with the session (or
 * `error=`, or `linked=` after linking a provider) in the fragment, which never reaches a server. It is read once and wiped from the address
 * bar and history straight away.
 */
export default function AuthReturn() {
  const { t } = useI18n();
  const { route } = useLocation();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const fields = new URLSearchParams(location.hash.slice(1));
    history.replaceState(null, '', location.pathname);
    const accessToken = fields.get('accessToken');
    const refreshToken = fields.get('refreshToken');
    const user = fields.get('user');
    // A provider linked from settings (`link=true`) comes back with `#linked=<provider>` and no new session.
    const linked = fields.get('linked');
    if (linked !== null) return route(`/settings?linked=${encodeURIComponent(linked)}`, true);
    if (accessToken === null || refreshToken === null || user === null) {
      setError(fields.get('error') ?? 'access_denied');
      return;
    }
    startSession({ accessToken, refreshToken, expiresIn: Number(fields.get('expiresIn')), user: JSON.parse(user) as Account });
    route('/', true);
  }, []);
  return (
    <section class="page">
      {error === null ? (
        <p role="status">{t('auth.returning')}</p>
      ) : (
        <>
          <p class="error" role="alert">
            {problemMessage({ status: 400, code: error }, t)}
          </p>
          <a href="/sign-in">{t('nav.signIn')}</a>
        </>
      )}
    </section>
  );
}
