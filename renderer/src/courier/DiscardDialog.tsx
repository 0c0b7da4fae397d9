import { useState } from 'react';
import { Button, Form } from 'react-aria-components';
import type { QuarantineEntry } from '../../../shared/courier.ts';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import { FormField } from '../devices/FormField.tsx';
import { ModalDialog } from '../devices/ModalDialog.tsx';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { count, seqSpan } from './courierText.ts';

const minReason = 3;

/** Giving up on refused rows for good: only with a reason, which reconcile shows from then on. */
export function DiscardDialog({ entries, onClose, onDiscarded }: { entries: readonly QuarantineEntry[]; onClose: () => void; onDiscarded: (discarded: number) => void }) {
  const bridge = useBridge();
  const [reason, setReason] = useState('');
  const [fieldError, setFieldError] = useState<string | undefined>(undefined);
  const [error, setError] = useState<AppError | null>(null);
  const [pending, setPending] = useState(false);
  const one = entries.length === 1 ? entries[0] : undefined;

  function discard(): void {
    if (pending) return;
    if (reason.trim().length < minReason) {
      setFieldError('Say why these rows are discarded; the reason stays with them and reconcile shows it.');
      return;
    }
    setPending(true);
    setError(null);
    void bridge.invoke('courier.quarantine.discard', { ids: entries.map((e) => e.id), reason: reason.trim() }).then((result) => {
      setPending(false);
      if (result.ok) onDiscarded(result.value.discarded);
      else setError(result.error);
    });
  }

  return (
    <ModalDialog
      title={one === undefined ? `Discard ${count(entries.length)} refused rows?` : `Discard ${seqSpan(one.seq, one.to_seq)} of ${one.device_id}?`}
      onClose={onClose}
      tone="danger"
      testId="discard-dialog"
    >
      <Form
        className="dialog-form"
        validationBehavior="aria"
        onSubmit={(event) => {
          event.preventDefault();
          discard();
        }}
      >
        <p>
          {one === undefined ? 'These rows' : 'This row'} will never reach ClickHouse. The device may already have pruned {one === undefined ? 'them' : 'it'}, so this cannot be undone
          from here. Reconcile will show {one === undefined ? 'them' : 'it'} as discarded, with your reason.
        </p>
        {one !== undefined && <p className="muted">Server&apos;s reason: {one.reason}</p>}
        <FormField
          label="Reason (kept with the rows)"
          value={reason}
          onChange={(value) => {
            setReason(value);
            setFieldError(undefined);
          }}
          error={fieldError}
          placeholder="e.g. payload from a firmware bug, confirmed garbage"
          autoFocus
        />
        {error !== null && <ErrorNotice error={error} announce />}
        <div className="dialog-actions">
          <Button className="button" onPress={onClose}>
            Cancel
          </Button>
          <Button type="submit" className="button is-danger" isPending={pending} isDisabled={reason.trim().length < minReason}>
            {pending ? 'Discarding…' : 'Discard'}
          </Button>
        </div>
      </Form>
    </ModalDialog>
  );
}
