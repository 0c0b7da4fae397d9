import { useState } from 'react';
import { Button, Form } from 'react-aria-components';
import type { AppError } from '../../../shared/errors.ts';
import type { TrustedKey } from '../../../shared/trust.ts';
import { useBridge } from '../api/hooks.ts';
import { FormField } from '../devices/FormField.tsx';
import { ModalDialog } from '../devices/ModalDialog.tsx';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';

const minReason = 3;

/** Revoking is for good (the key can never be imported again), so it asks, and keeps a reason. */
export function RevokeKeyDialog({ trustedKey, onClose, onRevoked }: { trustedKey: TrustedKey; onClose: () => void; onRevoked: (key: TrustedKey) => void }) {
  const bridge = useBridge();
  const [reason, setReason] = useState('');
  const [fieldError, setFieldError] = useState<string | undefined>(undefined);
  const [error, setError] = useState<AppError | null>(null);
  const [pending, setPending] = useState(false);

  function revoke(): void {
    if (pending) return;
    if (reason.trim().length < minReason) {
      setFieldError('Say why this key is revoked; the reason is shown whenever an image it signed is refused.');
      return;
    }
    setPending(true);
    setError(null);
    void bridge.invoke('trust.revoke', { keyId: trustedKey.keyId, reason: reason.trim() }).then((result) => {
      setPending(false);
      if (result.ok) onRevoked(result.value.key);
      else setError(result.error);
    });
  }

  return (
    <ModalDialog title={`Revoke key ${trustedKey.keyId}?`} onClose={onClose} role="alertdialog" tone="danger" testId="revoke-key-dialog">
      <Form
        className="dialog-form"
        validationBehavior="aria"
        onSubmit={(event) => {
          event.preventDefault();
          revoke();
        }}
      >
        <p>
          Images signed by <strong>{trustedKey.label}</strong> will be refused from now on, and this key can never be imported again. This cannot be undone.
        </p>
        <FormField
          label="Reason (kept with the key)"
          value={reason}
          onChange={(value) => {
            setReason(value);
            setFieldError(undefined);
          }}
          error={fieldError}
          placeholder="e.g. secret key leaked, publisher rotated keys"
          autoFocus
        />
        {error !== null && <ErrorNotice error={error} announce />}
        <div className="dialog-actions">
          <Button className="button" onPress={onClose}>
            Cancel
          </Button>
          <Button type="submit" className="button is-danger" isPending={pending} isDisabled={reason.trim().length < minReason}>
            {pending ? 'Revoking…' : 'Revoke key'}
          </Button>
        </div>
      </Form>
    </ModalDialog>
  );
}
