import { useI18n } from '../i18n/i18n.tsx';
import { Timeline } from '../posts/timeline.tsx';

/** The posts the user bought (GET /v1/library), newest purchase first, unlocked. */
export default function Library() {
  const { t } = useI18n();
  return (
    <section class="page">
      <h1>{t('library.title')}</h1>
      <Timeline source="/v1/library" empty={t('library.empty')} />
    </section>
  );
}
