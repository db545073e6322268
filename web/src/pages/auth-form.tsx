import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, API_ORIGIN, problemOf } from '../api/client.ts';
import { startSession } from '../api/session.ts';
import type { Problem, Provider, Session } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { AUTH_RETURN_PATH } from '../routes.tsx';

/** Sign-in and sign-up share this: the form, its error, the social buttons, and where to go afterwards. */
export function AuthForm(props: { title: string; submitLabel: string; submit: () => Promise<{ data?: Session; error?: unknown; response: Response }>; children: ComponentChildren; footer: ComponentChildren }) {
  const { t } = useI18n();
  const { query, route } = useLocation();
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const onSubmit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const { data, error, response } = await props.submit();
      if (data === undefined) return setProblem(problemOf(error, response));
      startSession(data);
      route(safeNext(query.next), true);
    } catch {
      setProblem(problemOf(undefined, undefined));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="page auth-page">
      <h1>{props.title}</h1>
      <form class="stack" onSubmit={onSubmit} aria-describedby={problem === null ? undefined : 'auth-error'}>
        {props.children}
        {problem !== null && (
          <p id="auth-error" class="error" role="alert">
            {problemMessage(problem, t)}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {props.submitLabel}
        </button>
      </form>
      <SocialButtons />
      <p>{props.footer}</p>
    </section>
  );
}

/** One link per configured provider: the browser leaves for it, and comes back to AUTH_RETURN_PATH with a session. */
function SocialButtons() {
  const { t } = useI18n();
  const [providers, setProviders] = useState<Provider[]>([]);
  useEffect(() => {
    void api.GET('/v1/auth/providers').then(({ data }) => setProviders(data?.providers ?? []));
  }, []);
  if (providers.length === 0) return null;
  const back = encodeURIComponent(new URL(AUTH_RETURN_PATH, location.origin).href);
  return (
    <div class="social">
      <p>{t('auth.orWith')}</p>
      <ul class="stack">
        {providers.map((provider) => (
          <li key={provider.id}>
            <a class="button secondary" href={`${API_ORIGIN}/v1/auth/oauth/${encodeURIComponent(provider.id)}/authorize?redirect_uri=${back}`} data-provider={provider.id}>
              {t('auth.withProvider', { provider: provider.name })}
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A `next` page inside this app only (a path, not `//host`), else home. */
export function safeNext(next: string | undefined): string {
  return next !== undefined && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
}

/** A labelled input whose hint is tied to it for screen readers. */
export function Field(props: { id: string; label: string; hint?: string; type?: 'text' | 'email' | 'password'; value: string; onInput: (value: string) => void; autocomplete: string; required?: boolean; minLength?: number; maxLength?: number; pattern?: string }) {
  const hintId = props.hint === undefined ? undefined : `${props.id}-hint`;
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.id}
        // Preact's types tell input types apart by the roles each may take; these three take none.
        type={(props.type ?? 'text') as 'text'}
        value={props.value}
        onInput={(event) => props.onInput(event.currentTarget.value)}
        autocomplete={props.autocomplete}
        required={props.required}
        minLength={props.minLength}
        maxLength={props.maxLength}
        pattern={props.pattern}
        aria-describedby={hintId}
      />
      {hintId !== undefined && (
        <small id={hintId} class="hint">
          {props.hint}
        </small>
      )}
    </div>
  );
}
