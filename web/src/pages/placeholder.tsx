import { useLocation } from 'preact-iso';
import { useI18n } from '../i18n/i18n.tsx';
import { ROUTES } from '../routes.tsx';

/** A feature page not built yet (see routes.tsx): says so, and points at the API that has it. */
export default function Placeholder() {
  const { t } = useI18n();
  const { path } = useLocation();
  const title = ROUTES.find((route) => route.path === path)?.nav;
  const [before, after] = t('app.notBuilt').split('{docs}');
  return (
    <section class="page" data-not-built>
      <h1>{title === undefined ? t('app.name') : t(title)}</h1>
      <p>
        {before}
        <a href="/docs">{t('app.apiDocs')}</a>
        {after}
      </p>
    </section>
  );
}
