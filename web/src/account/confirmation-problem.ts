import type { Problem } from '../api/types.ts';
import type { Translate } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';

/**
 * The message for a refused re-confirmation (password change, account deletion): there a `403
 * invalid_credentials` means the password typed is wrong, not that the email and password do not match.
 */
export function confirmationProblem(problem: Problem, t: Translate): string {
  return problem.code === 'invalid_credentials' ? t('settings.wrongPassword') : problemMessage(problem, t);
}
