import { useI18n } from '../i18n/i18n.tsx';

export default function NotFound() {
  const { t } = useI18n();
  return (
    <section class="page">
      <h1>{t('app.notFound')}</h1>
      <p>
        <a href="/">{t('nav.home')}</a>
      </p>
    </section>
  );
}
