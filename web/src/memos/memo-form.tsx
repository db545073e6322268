import { useEffect, useId, useRef, useState } from 'preact/hooks';
import type { Problem } from '../api/types.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { problemMessage } from '../i18n/problem-message.ts';
import { MEMO_MAX_LENGTH } from './memo-api.ts';

/** A memo's text to write or rewrite; `onSave` stores it (and throws the API's problem when refused). */
export function MemoForm({ initial = '', label, saveLabel, onSave, onCancel }: {
  initial?: string;
  label: string;
  saveLabel: string;
  onSave: (text: string) => Promise<void>;
  onCancel?: () => void;
}) {
  const { t } = useI18n();
  const id = useId();
  const [text, setText] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  // Editing replaced the memo's text with this form: the focus goes into it.
  const box = useRef<HTMLTextAreaElement>(null);
  const editing = onCancel !== undefined;
  useEffect(() => (editing ? box.current?.focus() : undefined), [editing]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await onSave(text);
      setText(initial);
    } catch (failure) {
      setProblem(failure as Problem);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="memo-form stack" onSubmit={submit} aria-label={label}>
      <label for={`${id}-text`} class="visually-hidden">
        {label}
      </label>
      <textarea ref={box} id={`${id}-text`} rows={3} maxLength={MEMO_MAX_LENGTH} value={text} placeholder={t('memos.placeholder')} onInput={(event) => setText(event.currentTarget.value)} />
      <div class="item-actions">
        <button type="submit" disabled={busy || text.trim() === ''}>
          {busy ? t('memos.saving') : saveLabel}
        </button>
        {onCancel !== undefined && (
          <button type="button" class="secondary" disabled={busy} onClick={onCancel}>
            {t('confirm.cancel')}
          </button>
        )}
      </div>
      {problem !== null && (
        <p class="error" role="alert">
          {problemMessage(problem, t)}
        </p>
      )}
    </form>
  );
}
