import { useEffect, useState } from 'preact/hooks';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { currentSubscription, pushSupported, registerServiceWorker, subscribeToPush, unsubscribeFromPush, type PushFailure } from './push.ts';

type State = 'checking' | 'unsupported' | 'off' | 'on' | 'busy';

/** Turning Web Push on and off for this browser, with why it did not work when it did not. */
export function PushOptIn() {
  const { t, locale } = useI18n();
  const [state, setState] = useState<State>(pushSupported() ? 'checking' : 'unsupported');
  const [failure, setFailure] = useState<PushFailure | null>(null);

  useEffect(() => {
    if (state === 'unsupported') return;
    void registerServiceWorker(locale)
      .then(() => currentSubscription())
      .then((subscription) => setState(subscription !== null && Notification.permission === 'granted' ? 'on' : 'off'))
      .catch(() => setState('off'));
  }, []);

  const turnOn = async () => {
    setState('busy');
    setFailure(null);
    const outcome = await subscribeToPush(locale).catch((error: unknown) => ({ browser: String(error) }));
    setFailure(outcome);
    setState(outcome === null ? 'on' : 'off');
  };
  const turnOff = async () => {
    setState('busy');
    setFailure(null);
    await unsubscribeFromPush().catch(() => undefined);
    setState('off');
  };

  return (
    <section class="push-opt-in" aria-labelledby="push-title">
      <h2 id="push-title">{t('push.title')}</h2>
      <p class="muted">{t('push.explain')}</p>
      {state === 'unsupported' && <p class="notice">{t('push.unsupported')}</p>}
      {state === 'on' && <p role="status">{t('push.on')}</p>}
      {state !== 'unsupported' && (
        <button type="button" class="secondary" disabled={state === 'checking' || state === 'busy'} onClick={() => void (state === 'on' ? turnOff() : turnOn())}>
          {state === 'on' ? t('push.turnOff') : t('push.turnOn')}
        </button>
      )}
      {failure !== null && (
        <p class="error" role="alert" data-push-failure={'problem' in failure ? failure.problem.code : 'denied' in failure ? 'denied' : 'browser'}>
          {'problem' in failure ? problemMessage(failure.problem, t) : 'denied' in failure ? t('push.denied') : t('push.browserFailed', { reason: failure.browser })}
        </p>
      )}
    </section>
  );
}
