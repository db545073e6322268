import { useState } from 'preact/hooks';
import { api } from '../api/client.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { AuthForm, Field } from './auth-form.tsx';

export default function SignIn() {
  const { t } = useI18n();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  return (
    <AuthForm
      title={t('auth.signInTitle')}
      submitLabel={t('auth.signIn')}
      submit={() => api.POST('/v1/auth/login', { body: { email, password } })}
      footer={
        <>
          {t('auth.noAccount')} <a href="/sign-up">{t('auth.signUp')}</a>
        </>
      }
    >
      <Field id="email" type="email" label={t('auth.email')} value={email} onInput={setEmail} autocomplete="email" required />
      <Field id="password" type="password" label={t('auth.password')} value={password} onInput={setPassword} autocomplete="current-password" required />
    </AuthForm>
  );
}
