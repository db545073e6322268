import { useI18n } from '../i18n/i18n.tsx';
import { AvatarEditor } from '../profiles/avatar-editor.tsx';
import { ProfileForm } from '../profiles/profile-form.tsx';
import '../profiles/profiles.css';

/** `/profile/edit`: your picture, then your name, handle and bio. */
export default function EditProfile() {
  const { t } = useI18n();
  return (
    <section class="page">
      <h1>{t('profile.editTitle')}</h1>
      <AvatarEditor />
      <h2>{t('profile.details')}</h2>
      <ProfileForm />
      <p>
        <a href="/profile">{t('profile.view')}</a>
      </p>
    </section>
  );
}
