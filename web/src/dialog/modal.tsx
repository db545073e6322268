import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';
import { useI18n } from '../i18n/i18n.tsx';
import './modal.css';

/**
 * A modal `<dialog>`: opened on mount (the browser traps focus and Esc closes it), and on closing it
 * gives focus back to what had it, so a keyboard user is where they were.
 */
export function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const { t } = useI18n();
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    dialog.current?.showModal();
    return () => opener?.focus();
  }, []);
  return (
    <dialog ref={dialog} class="modal" aria-labelledby={titleId} onClose={onClose}>
      <div class="modal-header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
          {t('dialog.close')}
        </button>
      </div>
      {children}
    </dialog>
  );
}

/** "Are you sure?" with the action's own words on its button; `busy` while the action runs, its problem shown under it. */
export function ConfirmDialog(props: { title: string; body: string; confirmLabel: string; busy: boolean; error: string | null; onConfirm: () => void; onClose: () => void; children?: ComponentChildren }) {
  const { t } = useI18n();
  return (
    <Modal title={props.title} onClose={props.onClose}>
      <form
        class="stack"
        onSubmit={(event) => {
          event.preventDefault();
          props.onConfirm();
        }}
      >
        <p>{props.body}</p>
        {props.children}
        {props.error !== null && (
          <p class="error" role="alert">
            {props.error}
          </p>
        )}
        <div class="modal-actions">
          <button type="button" class="secondary" onClick={props.onClose}>
            {t('dialog.cancel')}
          </button>
          <button type="submit" class="danger" disabled={props.busy}>
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}
