import type { ComponentType } from 'preact';
import { useEffect } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { useAccount } from '../api/use-account.ts';
import { useI18n } from '../i18n/i18n.tsx';

/** `Page` for a signed-in user; anyone else is sent to sign in, and back here afterwards. */
export function signedInOnly<Props extends object>(Page: ComponentType<Props>): ComponentType<Props> {
  return function SignedInOnly(props: Props) {
    const { account, restoring } = useAccount();
    const { url, route } = useLocation();
    const { t } = useI18n();
    useEffect(() => {
      if (!restoring && account === null) route(`/sign-in?next=${encodeURIComponent(url)}`, true);
    }, [restoring, account]);
    if (account === null) return <p role="status">{t('app.loading')}</p>;
    return <Page {...props} />;
  };
}
