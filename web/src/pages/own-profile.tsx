import { useAccount } from '../api/use-account.ts';
import { ProfileView } from '../profiles/profile-view.tsx';

/** `/profile`: your own profile (signed in only, see routes.tsx). */
export default function OwnProfile() {
  const { account } = useAccount();
  if (account === null) return null;
  return <ProfileView key={account.handle} handle={account.handle} />;
}
