import { useRoute } from 'preact-iso';
import { ProfileView } from '../profiles/profile-view.tsx';

/** `/u/:handle`: anyone's profile (a new handle is a new page, not a stale one updating). */
export default function Profile() {
  const { params } = useRoute();
  const handle = params.handle ?? '';
  return <ProfileView key={handle} handle={handle} />;
}
