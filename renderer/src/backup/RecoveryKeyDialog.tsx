import { useState } from 'react';
import { Button, CheckboxButton, CheckboxField } from 'react-aria-components';
import { repoRoleLabels, type RecoveryKey } from '../../../shared/backup.ts';
import { ModalDialog } from '../ui/ModalDialog.tsx';

/**
 * The recovery keys of repositories just created, shown this once: the service never
 * answers them again. Closing needs a tick that they are stored, so a stray Escape or click
 * cannot lose them.
 */
export function RecoveryKeyDialog({ keys, onClose }: { keys: readonly RecoveryKey[]; onClose: () => void }) {
  const [stored, setStored] = useState(false);
  const warnings = [...new Set(keys.map((k) => k.warning))];
  return (
    <ModalDialog title={keys.length === 1 ? 'Recovery key — shown once' : 'Recovery keys — shown once'} onClose={() => undefined} role="alertdialog" tone="danger" wide testId="recovery-key-dialog">
      <div className="dialog-body">
        <p className="recovery-warning" role="alert">
          <strong>Write {keys.length === 1 ? 'it' : 'them'} down or store {keys.length === 1 ? 'it' : 'them'} in your password manager now.</strong> Without{' '}
          {keys.length === 1 ? 'this key' : 'these keys'} the backups cannot be read if this laptop is lost. fieldkit will not show {keys.length === 1 ? 'it' : 'them'} again.
        </p>
        {warnings.map((w) => (
          <p key={w} className="muted">
            {w}
          </p>
        ))}
        <ul className="recovery-keys">
          {keys.map((k) => (
            <RecoveryKeyItem key={`${k.role}:${k.kind}`} recovery={k} />
          ))}
        </ul>
        <CheckboxField isSelected={stored} onChange={setStored} data-testid="recovery-key-stored">
          <CheckboxButton className="plain-checkbox">
            <span className="checkbox-box" aria-hidden="true" />
            <span>I have stored {keys.length === 1 ? 'this key' : 'these keys'} somewhere other than this laptop.</span>
          </CheckboxButton>
        </CheckboxField>
      </div>
      <div className="dialog-actions">
        <Button className="button is-primary" isDisabled={!stored} onPress={onClose}>
          Done
        </Button>
      </div>
    </ModalDialog>
  );
}

function RecoveryKeyItem({ recovery }: { recovery: RecoveryKey }) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const what = `${repoRoleLabels[recovery.role]}, ${recovery.kind === 'secrets' ? 'secrets repository' : 'main repository'}`;
  function copy(): void {
    void navigator.clipboard.writeText(recovery.recoveryKey).then(
      () => {
        setCopied('yes');
      },
      () => {
        setCopied('failed');
      },
    );
  }
  return (
    <li className="recovery-key" data-testid="recovery-key" data-role={recovery.role} data-kind={recovery.kind}>
      <p className="recovery-key-what">
        <strong>{what}</strong> <span className="mono muted">{recovery.location}</span>
      </p>
      <div className="recovery-key-line">
        <code className="recovery-key-value" data-testid="recovery-key-value">
          {recovery.recoveryKey}
        </code>
        <Button className="button is-small" onPress={copy} aria-label={`Copy the recovery key of the ${what}`}>
          {copied === 'yes' ? 'Copied' : 'Copy'}
        </Button>
      </div>
      {copied === 'failed' && <p className="field-error">This browser did not allow copying: select the key and copy it by hand.</p>}
    </li>
  );
}
