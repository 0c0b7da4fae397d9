import { useState } from 'react';
import { Button, CheckboxButton, CheckboxField } from 'react-aria-components';
import type { AppError } from '../../../shared/errors.ts';
import type { ImageSummary } from '../../../shared/flash.ts';
import { formatBytes, formatExactBytes } from '../../../shared/format.ts';
import { ModalDialog } from '../ui/ModalDialog.tsx';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import type { IdentityDraft, PickedDrive } from './flashForm.ts';
import { driveModel } from '../../../shared/drives.ts';

/**
 * The last look before drives are erased: each drive by name and size, the image, and the
 * unsigned warning again. Cancel has focus and the flash button stays off until the box is
 * ticked, so no Enter on a reflex erases a drive.
 */
export function ConfirmFlashDialog({
  image,
  picked,
  drafts,
  starting,
  error,
  onConfirm,
  onClose,
}: {
  image: ImageSummary;
  picked: readonly PickedDrive[];
  drafts: Readonly<Record<string, IdentityDraft>>;
  starting: boolean;
  error: AppError | null;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const [understood, setUnderstood] = useState(false);
  const count = `${picked.length} drive${picked.length === 1 ? '' : 's'}`;
  const name = image.product === null ? (image.path.split(/[/\\]/).pop() ?? image.path) : `${image.product} ${image.version ?? ''}`.trim();
  return (
    <ModalDialog title={`Erase and flash ${count}?`} onClose={onClose} role="alertdialog" tone="danger" wide testId="confirm-flash-dialog">
      <div className="dialog-body">
        <p className="dialog-lead">
          Everything on {picked.length === 1 ? 'this drive' : `these ${count}`} is erased and replaced by <strong>{name}</strong>
          {image.rawBytes === null ? '' : ` (${formatBytes(image.rawBytes)})`}.
        </p>
        <ul className="confirm-drives" data-testid="confirm-drives">
          {picked.map((drive) => {
            const id = drafts[drive.device]?.deviceId.trim() ?? '';
            return (
              <li key={drive.device} data-device={drive.device}>
                <span className="device-path">{drive.device}</span>
                <span className="confirm-size num" title={formatExactBytes(drive.sizeBytes)}>
                  {formatBytes(drive.sizeBytes)}
                </span>
                <span className="confirm-desc">{driveModel(drive) ?? 'No model name'}</span>
                <span className="confirm-identity">{id === '' ? 'no first-boot identity' : `becomes ${id}`}</span>
              </li>
            );
          })}
        </ul>
        {image.kind === 'plain' && (
          <p className="unsigned-warning" role="alert" data-testid="confirm-unsigned-warning">
            <strong>Unsigned image.</strong> Its contents are not vouched for by any trusted key.{' '}
            {image.warnings.join(' ')}
          </p>
        )}
        <CheckboxField isSelected={understood} onChange={setUnderstood} data-testid="confirm-tick">
          <CheckboxButton className="plain-checkbox confirm-tick">
            <span className="checkbox-box" aria-hidden="true" />
            I checked the drive names and sizes: erase {picked.length === 1 ? 'it' : `all ${picked.length}`}.
          </CheckboxButton>
        </CheckboxField>
      </div>
      {error !== null && <ErrorNotice error={error} announce />}
      <div className="dialog-actions">
        <Button className="button" onPress={onClose} autoFocus>
          Cancel
        </Button>
        <Button className="button is-danger" onPress={onConfirm} isDisabled={!understood} isPending={starting}>
          {starting ? 'Starting…' : `Erase and flash ${count}`}
        </Button>
      </div>
    </ModalDialog>
  );
}
