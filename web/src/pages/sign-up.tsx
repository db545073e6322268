import { useState } from 'preact/hooks';
import { api } from '../api/client.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { AuthForm, Field } from './auth-form.tsx';

export default function SignUp() {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [handle, setHandle] = useState('');
  return (
    <AuthForm
      title={t('auth.signUpTitle')}
      submitLabel={t('auth.signUp')}
      submit={() => api.POST('/v1/auth/signup', { body: { name, email, password, ...(handle !== '' && { handle }) } })}
      footer={
        <>
          {t('auth.haveAccount')} <a href="/sign-in">{t('auth.signIn')}</a>
        </>
      }
    >
      <Field id="name" label={t('auth.name')} value={name} onInput={setName} autocomplete="name" required maxLength={50} />
      <Field id="email" type="email" label={t('auth.email')} value={email} onInput={setEmail} autocomplete="email" required />
      <Field id="password" type="password" label={t('auth.password')} hint={t('auth.passwordHint')} value={password} onInput={setPassword} autocomplete="new-password" required minLength={8} maxLength={256} />
      <Field id="handle" label={t('auth.handle')} hint={t('auth.handleHint')} value={handle} onInput={setHandle} autocomplete="username" pattern="[a-z0-9_]{3,30}" />
    </AuthForm>
  );
}
