import { useState } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import type { Problem, User } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';

/**
 * Follow or unfollow, and while following the bell: a notification for each new post
 * (`PUT …/follow { notify }`, which keeps the follow and changes only that). `onChanged` reloads the
 * profile, so its counts are the API's, not a guess.
 */
export function FollowButtons({ user, onChanged }: { user: User; onChanged: () => Promise<void> }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const following = user.followedByMe === true;
  const notifying = user.notifyingMe === true;
  const path = { params: { path: { handle: user.handle } } };

  const run = async (request: () => Promise<{ error?: unknown; response: Response }>) => {
    setBusy(true);
    setProblem(null);
    try {
      const { error, response } = await request();
      if (!response.ok) setProblem(problemOf(error, response));
      await onChanged();
    } catch {
      setProblem(problemOf(undefined, undefined));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="follow-buttons">
      <button type="button" class={following ? 'secondary' : undefined} disabled={busy} onClick={() => void run(() => (following ? api.DELETE('/v1/users/{handle}/follow', path) : api.PUT('/v1/users/{handle}/follow', path)))}>
        {following ? t('profile.unfollow') : t('profile.follow')}
      </button>
      {following && (
        <button type="button" class="secondary bell" aria-pressed={notifying} disabled={busy} onClick={() => void run(() => api.PUT('/v1/users/{handle}/follow', { ...path, body: { notify: !notifying } }))}>
          <span aria-hidden="true">{notifying ? '🔔' : '🔕'}</span> {t('profile.notify')}
        </button>
      )}
      {problem !== null && (
        <p class="error" role="alert">
          {problemMessage(problem, t)}
        </p>
      )}
    </div>
  );
}
