import { useEffect, useRef, useState } from 'preact/hooks';
import { useI18n } from '../i18n/i18n.tsx';
import { ConfirmDelete } from '../shell/confirm-delete.tsx';
import { deleteMemo, rewriteMemo, type Memo } from './memo-api.ts';
import { MemoForm } from './memo-form.tsx';

/** One memo: its text and when it was last changed; edited in place, deleted after asking. */
export function MemoItem({ memo, onChange, onDeleted }: { memo: Memo; onChange: (memo: Memo) => void; onDeleted: (memo: Memo) => void }) {
  const { t, locale } = useI18n();
  const [editing, setEditing] = useState(false);
  // Back from editing, the focus returns to Edit rather than to the page's start.
  const edit = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(false);
  useEffect(() => {
    if (!editing && wasEditing.current) edit.current?.focus();
    wasEditing.current ||= editing;
  }, [editing]);
  const updated = new Date(memo.updatedAt);
  const edited = memo.updatedAt !== memo.createdAt;

  if (editing) {
    return (
      <article class="memo">
        <MemoForm
          initial={memo.text}
          label={t('memos.editLabel')}
          saveLabel={t('memos.save')}
          onSave={async (text) => {
            onChange(await rewriteMemo(memo.id, text));
            setEditing(false);
          }}
          onCancel={() => setEditing(false)}
        />
      </article>
    );
  }
  return (
    <article class="memo" aria-label={t('memos.memo')}>
      <p class="memo-text">{memo.text}</p>
      <p class="muted memo-time">
        <time dateTime={memo.updatedAt}>{t(edited ? 'memos.edited' : 'memos.written', { when: updated.toLocaleString(locale) })}</time>
      </p>
      <div class="item-actions">
        <button ref={edit} type="button" class="secondary" onClick={() => setEditing(true)}>
          {t('memos.edit')}
        </button>
        <ConfirmDelete
          question={t('memos.deleteQuestion')}
          label={t('memos.delete')}
          onDelete={async () => {
            await deleteMemo(memo.id);
            onDeleted(memo);
          }}
        />
      </div>
    </article>
  );
}
