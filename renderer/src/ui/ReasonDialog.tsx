/**
 * A dangerous, final action that must carry a reason (revoking a key, discarding refused
 * rows): the button stays off until a reason is typed, and the reason is kept with the
 * outcome so whoever meets its effect later can read why.
 */
import { useState, type ReactNode } from 'react';
import { Button, Form } from 'react-aria-components';
import type { AppError } from '../../../shared/errors.ts';
import { FormField } from './FormField.tsx';
import { ModalDialog } from './ModalDialog.tsx';
import { ErrorNotice } from './ErrorNotice.tsx';

const minReason = 3;

export type ReasonDialogProps = {
  title: string;
  testId: string;
  role?: 'dialog' | 'alertdialog';
  /** What will happen, in words; shown above the reason field. */
  children: ReactNode;
  reasonLabel: string;
  placeholder: string;
  /** Shown when the technician tries without a reason. */
  whyAReason: string;
  actionLabel: string;
  pendingLabel: string;
  /** Performs the action; resolves with its error, or null when done. */
  perform: (reason: string) => Promise<AppError | null>;
  onClose: () => void;
};

export function ReasonDialog(props: ReasonDialogProps) {
  const [reason, setReason] = useState('');
  const [fieldError, setFieldError] = useState<string | undefined>(undefined);
  const [error, setError] = useState<AppError | null>(null);
  const [pending, setPending] = useState(false);

  function submit(): void {
    if (pending) return;
    if (reason.trim().length < minReason) {
      setFieldError(props.whyAReason);
      return;
    }
    setPending(true);
    setError(null);
    void props.perform(reason.trim()).then((failure) => {
      setPending(false);
      setError(failure);
    });
  }

  return (
    <ModalDialog title={props.title} onClose={props.onClose} role={props.role ?? 'dialog'} tone="danger" testId={props.testId}>
      <Form
        className="dialog-form"
        validationBehavior="aria"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        {props.children}
        <FormField
          label={props.reasonLabel}
          value={reason}
          onChange={(value) => {
            setReason(value);
            setFieldError(undefined);
          }}
          error={fieldError}
          placeholder={props.placeholder}
          autoFocus
        />
        {error !== null && <ErrorNotice error={error} announce />}
        <div className="dialog-actions">
          <Button className="button" onPress={props.onClose}>
            Cancel
          </Button>
          <Button type="submit" className="button is-danger" isPending={pending} isDisabled={reason.trim().length < minReason}>
            {pending ? props.pendingLabel : props.actionLabel}
          </Button>
        </div>
      </Form>
    </ModalDialog>
  );
}
