import type { User } from '../api/types.ts';

/** A user's picture, or an empty circle; decorative beside their name unless `alt` says otherwise. `large` is the profile header's. */
export function Avatar({ user, large = false, alt = '' }: { user: Pick<User, 'avatarUrl'>; large?: boolean; alt?: string }) {
  const size = large ? 96 : 40;
  const className = large ? 'avatar avatar-large' : 'avatar';
  if (user.avatarUrl === null) return <span class={className} aria-hidden="true" />;
  return <img class={className} src={user.avatarUrl} alt={alt} width={size} height={size} loading="lazy" />;
}
