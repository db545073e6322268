import { useI18n } from '../i18n/i18n.tsx';
import { Timeline } from '../posts/timeline.tsx';

/** The public main page: every public post, newest first. */
export default function Explore() {
  const { t } = useI18n();
  return (
    <section class="page">
      <h1>{t('timeline.exploreTitle')}</h1>
      <Timeline source="/v1/timelines/public" empty={t('timeline.empty')} />
    </section>
  );
}
