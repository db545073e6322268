import type { Problem } from '../api/types.ts';
import { en, type MessageKey } from './en.ts';
import type { Translate } from './i18n.tsx';

/** What to tell the user about an error answer: the message of its code (`error.<code>`) where the catalogue has one. */
export function problemMessage(problem: Problem, t: Translate): string {
  const key = `error.${problem.code}`;
  if (!isMessageKey(key)) return t('error.generic', { code: problem.code });
  const fields = problem.errors?.map((error) => `${error.path.slice(1) || '—'}: ${error.message}`).join('; ');
  return t(key, { detail: fields ?? problem.detail ?? '' });
}

function isMessageKey(key: string): key is MessageKey {
  return Object.hasOwn(en, key);
}
