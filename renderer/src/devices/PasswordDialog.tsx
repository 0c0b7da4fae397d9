import { useState } from 'react';
import { Button, Form } from 'react-aria-components';
import type { Device } from '../../../shared/devices.ts';
import type { AppError } from '../../../shared/errors.ts';
import type { ResponseOf } from '../../../shared/api.ts';
import { useBridge } from '../api/hooks.ts';
import { FormField } from '../ui/FormField.tsx';
import { ModalDialog } from '../ui/ModalDialog.tsx';

/**
 * First contact: fieldkit's own key is not on the device yet, so it logs in once with the
 * password and installs its key. The password lives only in this dialog's state, is sent
 * once per try, and is cleared after every try; it is never stored.
 */
export function PasswordDialog({
  device,
  onClose,
  onConnected,
  onFailed,
}: {
  device: Device;
  onClose: () => void;
  onConnected: (answer: ResponseOf<'devices.connect'>) => void;
  /** Any failure other than a refused password ends the dialog; the screen shows it. */
  onFailed: (error: AppError) => void;
}) {
  const bridge = useBridge();
  const [password, setPassword] = useState('');
  const [refused, setRefused] = useState<AppError | null>(null);
  const [connecting, setConnecting] = useState(false);
  const user = device.link.kind === 'local' ? null : device.link.username;
  const where = device.link.kind === 'ssh' ? device.link.host : device.link.kind === 'serial' ? device.link.path : 'this computer';

  function submit(): void {
    if (connecting || password === '') return;
    const sent = password;
    setPassword('');
    setRefused(null);
    setConnecting(true);
    void bridge.invoke('devices.connect', { id: device.id, password: sent }).then((result) => {
      setConnecting(false);
      if (result.ok) onConnected(result.value);
      else if (result.error.code === 'AUTH_FAILED') setRefused(result.error);
      else onFailed(result.error);
    });
  }

  return (
    <ModalDialog title={`Log in to ${device.name} once`} onClose={onClose} testId="password-dialog">
      <Form
        className="dialog-form"
        validationBehavior="aria"
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <p className="dialog-lead">
          fieldkit&apos;s key is not on {device.name} yet. Enter the password of <span className="mono">{user ?? 'the device user'}</span> on{' '}
          <span className="mono">{where}</span>: fieldkit logs in with it once, installs its own key, and forgets the password.
        </p>
        <FormField
          label={`Password for ${user ?? 'the device user'}`}
          type="password"
          value={password}
          onChange={(value) => {
            setPassword(value);
            setRefused(null);
          }}
          autoFocus
          error={refused === null ? undefined : `${refused.message} ${refused.hint}`}
        />
        <div className="dialog-actions">
          <Button className="button" onPress={onClose}>
            Cancel
          </Button>
          <Button type="submit" className="button is-primary" isPending={connecting} isDisabled={!connecting && password === ''}>
            {connecting ? 'Connecting…' : 'Connect'}
          </Button>
        </div>
      </Form>
    </ModalDialog>
  );
}
