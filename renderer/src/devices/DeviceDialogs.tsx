import type { ResponseOf } from '../../../shared/api.ts';
import type { Device } from '../../../shared/devices.ts';
import { useBridge } from '../api/hooks.ts';
import { ConfirmDialog } from '../ui/ConfirmDialog.tsx';
import { AddDeviceDialog } from './AddDeviceDialog.tsx';
import type { AddDevicePrefill } from './deviceForm.ts';
import type { DeviceNotice } from './DeviceNotices.tsx';
import { fingerprintCommand, linkLabel } from './deviceText.ts';
import { EditDeviceDialog } from './EditDeviceDialog.tsx';
import { HostKeyDialog } from './HostKeyDialog.tsx';
import { PasswordDialog } from './PasswordDialog.tsx';
import { ProvisionDialog } from './ProvisionDialog.tsx';

/** The one dialog the Devices screen has open, if any. */
export type OpenDialog =
  | { kind: 'add'; prefill: AddDevicePrefill | null }
  | { kind: 'host-key'; device: Device }
  | { kind: 'password'; device: Device }
  | { kind: 'edit'; device: Device }
  | { kind: 'remove'; device: Device }
  | { kind: 'forget-key'; device: Device }
  | { kind: 'provision'; device: Device };

type DeviceDialogsProps = {
  dialog: OpenDialog | null;
  onOpen: (dialog: OpenDialog) => void;
  onClose: () => void;
  showNotice: (notice: DeviceNotice) => void;
  dismissNotice: (deviceId: string) => void;
};

/** The Devices screen's dialogs; each closes itself and leaves a notice saying what it did. */
export function DeviceDialogs({ dialog, onOpen, onClose, showNotice, dismissNotice }: DeviceDialogsProps) {
  if (dialog === null) return null;
  switch (dialog.kind) {
    case 'remove':
      return <RemoveDeviceDialog device={dialog.device} onClose={onClose} dismissNotice={dismissNotice} />;
    case 'forget-key':
      return <ForgetHostKeyDialog device={dialog.device} onClose={onClose} showNotice={showNotice} />;
    default:
      return <ContactDialogs dialog={dialog} onOpen={onOpen} onClose={onClose} showNotice={showNotice} />;
  }
}

type ContactDialog = Exclude<OpenDialog, { kind: 'remove' | 'forget-key' }>;

/** Adding, checking the host key, first login, provisioning, editing. */
function ContactDialogs({ dialog, onOpen, onClose, showNotice }: { dialog: ContactDialog; onOpen: (dialog: OpenDialog) => void; onClose: () => void; showNotice: (notice: DeviceNotice) => void }) {
  switch (dialog.kind) {
    case 'add':
      return (
        <AddDeviceDialog
          prefill={dialog.prefill}
          onClose={onClose}
          onAdded={(device) => {
            onClose();
            showNotice({
              kind: 'info',
              deviceId: device.id,
              deviceName: device.name,
              text:
                device.link.kind === 'ssh'
                  ? `Added ${device.name} (${linkLabel(device.link)}). Next: check its host key against the Pi's own before the first connection.`
                  : `Added ${device.name} (${linkLabel(device.link)}). Next: Connect.`,
            });
          }}
        />
      );
    case 'host-key':
      return (
        <HostKeyDialog
          device={dialog.device}
          onClose={onClose}
          onTrusted={(device) => {
            onClose();
            showNotice({ kind: 'info', deviceId: device.id, deviceName: device.name, text: `Host key of ${device.name} trusted and pinned. Next: Connect.` });
          }}
          onForgetRequested={(device) => {
            onOpen({ kind: 'forget-key', device });
          }}
        />
      );
    case 'password':
      return (
        <PasswordDialog
          device={dialog.device}
          onClose={onClose}
          onConnected={(answer: ResponseOf<'devices.connect'>) => {
            onClose();
            showNotice({ kind: 'connected', deviceId: answer.device.id, deviceName: answer.device.name, answer });
          }}
          onFailed={(failure) => {
            onClose();
            showNotice({ kind: 'failed', deviceId: dialog.device.id, deviceName: dialog.device.name, action: 'Connecting to', error: failure });
          }}
        />
      );
    case 'provision':
      return <ProvisionDialog device={dialog.device} onClose={onClose} />;
    case 'edit':
      return <EditDeviceDialog device={dialog.device} onClose={onClose} onSaved={onClose} />;
  }
}

function RemoveDeviceDialog({ device, onClose, dismissNotice }: { device: Device; onClose: () => void; dismissNotice: (deviceId: string) => void }) {
  const bridge = useBridge();
  return (
    <ConfirmDialog
      title={`Remove ${device.name}?`}
      confirmLabel="Remove device"
      pendingLabel="Removing…"
      testId="remove-device-dialog"
      onClose={onClose}
      onConfirm={() => bridge.invoke('devices.remove', { id: device.id })}
      onDone={() => {
        dismissNotice(device.id);
        onClose();
      }}
    >
      <p>
        fieldkit forgets how to reach <strong>{device.name}</strong> (<span className="mono">{linkLabel(device.link)}</span>)
        {device.hostKeyFingerprint !== null && ' and the host key pinned for it'}. Journals already pulled from it stay on this laptop.
      </p>
    </ConfirmDialog>
  );
}

function ForgetHostKeyDialog({ device, onClose, showNotice }: { device: Device; onClose: () => void; showNotice: (notice: DeviceNotice) => void }) {
  const bridge = useBridge();
  return (
    <ConfirmDialog
      title={`Forget the pinned host key of ${device.name}?`}
      confirmLabel="Forget pinned key"
      pendingLabel="Forgetting…"
      testId="forget-key-dialog"
      onClose={onClose}
      onConfirm={() => bridge.invoke('devices.forgetHostKey', { id: device.id })}
      onDone={() => {
        onClose();
        showNotice({
          kind: 'info',
          deviceId: device.id,
          deviceName: device.name,
          text: `The pinned key of ${device.name} is forgotten. Check its new key on the Pi (${fingerprintCommand}) before trusting it.`,
        });
      }}
    >
      <p>
        Do this only if you <strong>know</strong> why the key changed: the Pi was reinstalled, or its SD card or NVMe drive replaced.
      </p>
      <p>
        If you do not know, cancel and find out first. A changed key can mean another machine is answering in this Pi&apos;s place, and connecting would hand it
        fieldkit&apos;s login.
      </p>
      {device.hostKeyFingerprint !== null && (
        <p className="muted">
          Pinned now: <span className="mono">{device.hostKeyFingerprint}</span>
        </p>
      )}
    </ConfirmDialog>
  );
}
