import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog, open while mounted: the native `<dialog>` shown with showModal() makes the page
 * behind it inert and closes on Escape (its `cancel` event, handed to `onDismiss`). Tab wraps inside
 * it rather than leaving for the browser's own toolbar, and focus goes back to what had it before.
 */
export function Modal({ labelledBy, describedBy, onDismiss, children }: { labelledBy: string; describedBy?: string; onDismiss: () => void; children: ComponentChildren }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useLayoutEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const element = dialog.current;
    element?.showModal();
    return () => {
      element?.close();
      // After the dialog has left the page: removing it while it held focus would drop focus on <body>.
      setTimeout(() => opener?.isConnected && opener.focus());
    };
  }, []);
  const keepTabInside = (event: KeyboardEvent) => {
    if (event.key !== 'Tab' || dialog.current === null) return;
    const focusable = [...dialog.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
    const first = focusable[0];
    const last = focusable.at(-1);
    if (first === undefined || last === undefined) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };
  return (
    <dialog
      ref={dialog}
      class="modal"
      aria-labelledby={labelledBy}
      aria-describedby={describedBy}
      onKeyDown={keepTabInside}
      onCancel={(event) => {
        event.preventDefault();
        onDismiss();
      }}
    >
      {children}
    </dialog>
  );
}
