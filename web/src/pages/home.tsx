import { useState } from 'preact/hooks';
import { useAccount } from '../api/use-account.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { Compose } from '../posts/compose.tsx';
import { Timeline } from '../posts/timeline.tsx';

/** Signed in: compose and the home timeline. Signed out: the public main page, with a way in. */
export default function Home() {
  const { t } = useI18n();
  const { account, restoring } = useAccount();
  // A new post restarts the timeline from its newest page, so the author sees it at the top.
  const [generation, setGeneration] = useState(0);
  if (restoring) return <p role="status">{t('app.loading')}</p>;
  if (account === null) {
    return (
      <section class="page">
        <h1>{t('timeline.exploreTitle')}</h1>
        <p class="notice">
          {t('timeline.signInPrompt')} <a href="/sign-in">{t('nav.signIn')}</a> · <a href="/sign-up">{t('nav.signUp')}</a>
        </p>
        <Timeline source="/v1/timelines/public" empty={t('timeline.empty')} />
      </section>
    );
  }
  return (
    <section class="page">
      <h1>{t('timeline.homeTitle')}</h1>
      <Compose onPosted={() => setGeneration((value) => value + 1)} />
      <Timeline key={generation} source="/v1/timelines/home" empty={t('timeline.homeEmpty')} />
    </section>
  );
}
