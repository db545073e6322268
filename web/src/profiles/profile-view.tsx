import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, problemOf } from '../api/client.ts';
import { useAccount } from '../api/use-account.ts';
import type { Problem, User } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { Avatar } from './avatar.tsx';
import { FollowButtons } from './follow-buttons.tsx';
import { UserPosts } from './user-posts.tsx';
import './profiles.css';

/** A user's page: picture, name, handle, bio, counts, following them (or editing, if it is you), and their posts. */
export function ProfileView({ handle }: { handle: string }) {
  const { t } = useI18n();
  const { account, restoring } = useAccount();
  const [user, setUser] = useState<User | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  const load = useCallback(async () => {
    try {
      const { data, error, response } = await api.GET('/v1/users/{handle}', { params: { path: { handle } } });
      if (data === undefined) return setProblem(problemOf(error, response));
      setProblem(null);
      setUser(data);
    } catch {
      setProblem(problemOf(undefined, undefined));
    }
  }, [handle]);
  // Signed in or not changes followedByMe, so the profile is read again once the session is known.
  useEffect(() => {
    if (!restoring) void load();
  }, [load, restoring, account?.id]);

  if (problem !== null && user === null) {
    return (
      <section class="page">
        <h1>{problem.status === 404 ? t('profile.notFound', { handle }) : t('nav.profile')}</h1>
        {problem.status !== 404 && (
          <p class="error" role="alert">
            {problemMessage(problem, t)}
          </p>
        )}
      </section>
    );
  }
  if (user === null) return <p role="status">{t('app.loading')}</p>;
  const yourself = account?.id === user.id;
  return (
    <section class="page profile">
      <header class="profile-header">
        <Avatar user={user} large alt={t('profile.avatarOf', { name: user.name })} />
        <div class="profile-names">
          <h1>{user.name}</h1>
          <p class="muted">@{user.handle}</p>
        </div>
      </header>
      {user.bio !== '' && <p class="profile-bio">{user.bio}</p>}
      <ul class="profile-counts" aria-label={t('profile.counts')}>
        <li data-count="posts">{t('profile.postCount', { count: user.counts.posts })}</li>
        <li data-count="followers">{t('profile.followerCount', { count: user.counts.followers })}</li>
        <li data-count="following">{t('profile.followingCount', { count: user.counts.following })}</li>
      </ul>
      {yourself ? (
        <p>
          <a class="button secondary" href="/profile/edit">
            {t('profile.edit')}
          </a>
        </p>
      ) : account !== null ? (
        <FollowButtons user={user} onChanged={load} />
      ) : (
        <p class="notice">
          {t('profile.signInToFollow')} <a href={`/sign-in?next=${encodeURIComponent(`/u/${user.handle}`)}`}>{t('nav.signIn')}</a>
        </p>
      )}
      <h2>{t('profile.posts')}</h2>
      <UserPosts handle={user.handle} onDeleted={() => void load()} />
    </section>
  );
}
