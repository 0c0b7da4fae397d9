import { useState, type ReactNode } from 'react';
import { Button } from 'react-aria-components';
import type { AppError, Result } from '../../../shared/errors.ts';
import { ErrorNotice } from './ErrorNotice.tsx';
import { ModalDialog } from './ModalDialog.tsx';

/**
 * A question before something that cannot be undone from here. Cancel comes first and
 * takes focus, so Enter on a reflex keeps things as they are.
 */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  pendingLabel,
  onConfirm,
  onClose,
  onDone,
  testId,
}: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  pendingLabel: string;
  onConfirm: () => Promise<Result<unknown>>;
  onClose: () => void;
  onDone: () => void;
  testId?: string;
}) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  function confirm(): void {
    setPending(true);
    setError(null);
    void onConfirm().then((result) => {
      setPending(false);
      if (result.ok) onDone();
      else setError(result.error);
    });
  }
  return (
    <ModalDialog title={title} onClose={onClose} role="alertdialog" tone="danger" testId={testId}>
      <div className="dialog-body">{children}</div>
      {error !== null && <ErrorNotice error={error} announce />}
      <div className="dialog-actions">
        <Button className="button" onPress={onClose} autoFocus>
          Cancel
        </Button>
        <Button className="button is-danger" onPress={confirm} isPending={pending}>
          {pending ? pendingLabel : confirmLabel}
        </Button>
      </div>
    </ModalDialog>
  );
}
