import { useState } from 'react';
import { Button } from 'react-aria-components';
import type { Device } from '../../../shared/devices.ts';
import { useBridge } from '../api/hooks.ts';
import { useJobs } from '../jobs/useJobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { AddDeviceDialog } from './AddDeviceDialog.tsx';
import { ConfirmDialog } from '../ui/ConfirmDialog.tsx';
import type { AddDevicePrefill } from './deviceForm.ts';
import { DeviceNotices, type DeviceNotice } from './DeviceNotices.tsx';
import { DeviceTable, type DeviceActions } from './DeviceTable.tsx';
import { deviceStatus, fingerprintCommand, linkLabel } from './deviceText.ts';
import { DiscoverPanel } from './DiscoverPanel.tsx';
import { EditDeviceDialog } from './EditDeviceDialog.tsx';
import { HostKeyDialog } from './HostKeyDialog.tsx';
import { PasswordDialog } from './PasswordDialog.tsx';
import { ProvisionDialog } from './ProvisionDialog.tsx';
import { useDevices } from './useDevices.ts';
import './devices.css';

type OpenDialog =
  | { kind: 'add'; prefill: AddDevicePrefill | null }
  | { kind: 'host-key'; device: Device }
  | { kind: 'password'; device: Device }
  | { kind: 'edit'; device: Device }
  | { kind: 'remove'; device: Device }
  | { kind: 'forget-key'; device: Device }
  | { kind: 'provision'; device: Device };

/** Devices: the Pis this laptop knows, how to reach each, and first contact done safely. */
export function DevicesScreen() {
  const bridge = useBridge();
  const { value: devices, error, loading, reload } = useDevices();
  const discoveryRunning = useJobs().some((job) => job.kind === 'devices.discover' && job.state === 'running');
  const [discoverOpen, setDiscoverOpen] = useState(false);
  const [dialog, setDialog] = useState<OpenDialog | null>(null);
  const [notices, setNotices] = useState<readonly DeviceNotice[]>([]);
  const [connecting, setConnecting] = useState<ReadonlySet<string>>(new Set());

  const showNotice = (notice: DeviceNotice) => {
    setNotices((all) => [notice, ...all.filter((n) => n.deviceId !== notice.deviceId)]);
  };
  const dismissNotice = (deviceId: string) => {
    setNotices((all) => all.filter((n) => n.deviceId !== deviceId));
  };
  const close = () => {
    setDialog(null);
  };

  function connect(device: Device): void {
    setConnecting((ids) => new Set(ids).add(device.id));
    void bridge.invoke('devices.connect', { id: device.id }).then((result) => {
      setConnecting((ids) => {
        const next = new Set(ids);
        next.delete(device.id);
        return next;
      });
      if (result.ok) {
        showNotice({ kind: 'connected', deviceId: device.id, deviceName: result.value.device.name, answer: result.value });
      } else if (result.error.code === 'AUTH_FAILED') {
        // First contact: fieldkit's key is not on the device yet. Ask once for the password.
        dismissNotice(device.id);
        setDialog({ kind: 'password', device });
      } else {
        showNotice({ kind: 'failed', deviceId: device.id, deviceName: device.name, action: 'Connecting to', error: result.error });
      }
    });
  }

  const actions: DeviceActions = {
    checkHostKey: (device) => {
      setDialog({ kind: 'host-key', device });
    },
    connect,
    edit: (device) => {
      setDialog({ kind: 'edit', device });
    },
    remove: (device) => {
      setDialog({ kind: 'remove', device });
    },
    provision: (device) => {
      setDialog({ kind: 'provision', device });
    },
  };

  const attention = devices?.filter((device) => deviceStatus(device).tone === 'warn' || deviceStatus(device).tone === 'danger').length ?? 0;
  return (
    <div className="screen devices-screen">
      <header className="screen-header">
        <h1>Devices</h1>
        <p className="screen-summary num" aria-live="polite">
          {devices === null ? (loading ? 'Loading devices…' : '') : deviceCount(devices.length, attention)}
        </p>
        <span className="live-note">Updates live</span>
        <div className="header-actions">
          <Button
            className="button"
            onPress={() => {
              setDiscoverOpen(!discoverOpen);
            }}
            aria-expanded={discoverOpen || discoveryRunning}
            isDisabled={discoveryRunning}
          >
            Discover
          </Button>
          <Button
            className="button is-primary"
            onPress={() => {
              setDialog({ kind: 'add', prefill: null });
            }}
          >
            Add device…
          </Button>
        </div>
      </header>
      {error !== null && (
        <div className="devices-load-error">
          <ErrorNotice error={error} announce />
          <Button className="button is-small" onPress={reload}>
            Try again
          </Button>
        </div>
      )}
      <DeviceNotices
        notices={notices}
        onDismiss={dismissNotice}
        onForgetHostKey={(deviceId) => {
          const device = devices?.find((d) => d.id === deviceId);
          if (device !== undefined) setDialog({ kind: 'forget-key', device });
        }}
      />
      {(discoverOpen || discoveryRunning) && (
        <DiscoverPanel
          devices={devices ?? []}
          onAdd={(prefill) => {
            setDialog({ kind: 'add', prefill });
          }}
        />
      )}
      {devices !== null && <DeviceTable devices={devices} connecting={connecting} actions={actions} />}

      {dialog?.kind === 'add' && (
        <AddDeviceDialog
          prefill={dialog.prefill}
          onClose={close}
          onAdded={(device) => {
            close();
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
      )}
      {dialog?.kind === 'host-key' && (
        <HostKeyDialog
          device={dialog.device}
          onClose={close}
          onTrusted={(device) => {
            close();
            showNotice({ kind: 'info', deviceId: device.id, deviceName: device.name, text: `Host key of ${device.name} trusted and pinned. Next: Connect.` });
          }}
          onForgetRequested={(device) => {
            setDialog({ kind: 'forget-key', device });
          }}
        />
      )}
      {dialog?.kind === 'password' && (
        <PasswordDialog
          device={dialog.device}
          onClose={close}
          onConnected={(answer) => {
            close();
            showNotice({ kind: 'connected', deviceId: answer.device.id, deviceName: answer.device.name, answer });
          }}
          onFailed={(failure) => {
            close();
            showNotice({ kind: 'failed', deviceId: dialog.device.id, deviceName: dialog.device.name, action: 'Connecting to', error: failure });
          }}
        />
      )}
      {dialog?.kind === 'provision' && <ProvisionDialog device={dialog.device} onClose={close} />}
      {dialog?.kind === 'edit' && (
        <EditDeviceDialog
          device={dialog.device}
          onClose={close}
          onSaved={() => {
            close();
          }}
        />
      )}
      {dialog?.kind === 'remove' && (
        <ConfirmDialog
          title={`Remove ${dialog.device.name}?`}
          confirmLabel="Remove device"
          pendingLabel="Removing…"
          testId="remove-device-dialog"
          onClose={close}
          onConfirm={() => bridge.invoke('devices.remove', { id: dialog.device.id })}
          onDone={() => {
            dismissNotice(dialog.device.id);
            close();
          }}
        >
          <p>
            fieldkit forgets how to reach <strong>{dialog.device.name}</strong> (<span className="mono">{linkLabel(dialog.device.link)}</span>)
            {dialog.device.hostKeyFingerprint !== null && ' and the host key pinned for it'}. Journals already pulled from it stay on this laptop.
          </p>
        </ConfirmDialog>
      )}
      {dialog?.kind === 'forget-key' && (
        <ConfirmDialog
          title={`Forget the pinned host key of ${dialog.device.name}?`}
          confirmLabel="Forget pinned key"
          pendingLabel="Forgetting…"
          testId="forget-key-dialog"
          onClose={close}
          onConfirm={() => bridge.invoke('devices.forgetHostKey', { id: dialog.device.id })}
          onDone={() => {
            const { device } = dialog;
            close();
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
          {dialog.device.hostKeyFingerprint !== null && (
            <p className="muted">
              Pinned now: <span className="mono">{dialog.device.hostKeyFingerprint}</span>
            </p>
          )}
        </ConfirmDialog>
      )}
    </div>
  );
}

function deviceCount(total: number, attention: number): string {
  if (total === 0) return 'No devices yet';
  const devices = `${total} device${total === 1 ? '' : 's'}`;
  return attention === 0 ? devices : `${devices} · ${attention} need${attention === 1 ? 's' : ''} attention`;
}
