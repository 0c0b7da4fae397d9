import { CheckboxButton, CheckboxField, CheckboxGroup, Label } from 'react-aria-components';
import { driveModel, type Drive } from '../../../shared/drives.ts';
import { formatBytes, formatExactBytes } from '../../../shared/format.ts';

/**
 * Which drives to flash. Every attached drive is listed; one that may not be flashed (the
 * system drive, too small for this image, holding the image…) is shown disabled with why.
 */
export function DrivePicker({ drives, picked, onChange }: { drives: readonly Drive[]; picked: readonly string[]; onChange: (devices: string[]) => void }) {
  return (
    <CheckboxGroup className="drive-picker" value={[...picked]} onChange={onChange} data-testid="drive-picker">
      <Label className="visually-hidden">Drives to flash</Label>
      {drives.length === 0 && <p className="muted">No drives found. Insert an SD card, USB stick or NVMe enclosure; it appears here within 2 seconds.</p>}
      {drives.map((drive) => (
        <CheckboxField
          key={drive.device}
          value={drive.device}
          isDisabled={!drive.flashable}
          className={drive.flashable ? 'drive-choice' : 'drive-choice is-refused'}
          data-testid="drive-choice"
          data-device={drive.device}
        >
          <CheckboxButton className="plain-checkbox drive-choice-button">
            <span className="checkbox-box" aria-hidden="true" />
            <span className="drive-choice-main">
            <span className="device-path">{drive.device}</span>
            <span className="drive-choice-size num" title={drive.sizeBytes === null ? undefined : formatExactBytes(drive.sizeBytes)}>
              {drive.sizeBytes === null ? 'size unknown' : formatBytes(drive.sizeBytes)}
            </span>
            <span className="drive-choice-desc">{driveModel(drive) ?? 'No model name'}</span>
            </span>
          </CheckboxButton>
          {!drive.flashable && (
            <span className="drive-choice-why" data-testid="drive-refused">
              {drive.refusals.map((refusal) => refusal.message).join(' ')}
            </span>
          )}
          {drive.flashable && drive.warnings.length > 0 && (
            <span className="drive-choice-warn">
              <span aria-hidden="true">⚠ </span>
              {drive.warnings.map((warning) => warning.message).join(' ')}
            </span>
          )}
        </CheckboxField>
      ))}
    </CheckboxGroup>
  );
}
