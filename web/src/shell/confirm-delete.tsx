import { useEffect, useRef, useState } from 'preact/hooks';
import type { Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import './confirm-delete.css';

/**
 * A delete button that asks first, in place: "Delete …?" with the real button and Cancel, the focus
 * on Cancel so a stray Enter deletes nothing. The API's refusal, if any, is shown beside it.
 */
export function ConfirmDelete({ question, label, onDelete }: { question: string; label: string; onDelete: () => Promise<void> }) {
  const { t } = useI18n();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  // The focus follows the question: to Cancel when asked, back to Delete when cancelled.
  const asked = useRef(false);
  useEffect(() => {
    if (asking) cancel.current?.focus();
    else if (asked.current) opener.current?.focus();
    asked.current ||= asking;
  }, [asking]);

  const confirm = async () => {
    setBusy(true);
    setProblem(null);
    try {
      await onDelete();
    } catch (failure) {
      setProblem(failure as Problem);
      setBusy(false);
    }
  };

  if (!asking) {
    return (
      <button ref={opener} type="button" class="secondary" aria-label={label} onClick={() => setAsking(true)}>
        {t('confirm.delete')}
      </button>
    );
  }
  return (
    <div class="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button type="button" class="danger" disabled={busy} onClick={() => void confirm()}>
        {t('confirm.yesDelete')}
      </button>
      <button ref={cancel} type="button" class="secondary" disabled={busy} onClick={() => setAsking(false)}>
        {t('confirm.cancel')}
      </button>
      {problem !== null && (
        <span class="error" role="alert">
          {problemMessage(problem, t)}
        </span>
      )}
    </div>
  );
}
