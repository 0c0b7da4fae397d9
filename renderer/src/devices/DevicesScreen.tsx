import { useState } from 'react';
import { Button } from 'react-aria-components';
import type { Device } from '../../../shared/devices.ts';
import { useBridge } from '../api/hooks.ts';
import { useJobs } from '../jobs/useJobs.ts';
import { openDeviceKey } from '../health/index.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { memoryKey, useRememberedSetter, useRememberedState } from '../ui/ScreenMemory.tsx';
import { useSwitchScreen } from '../ui/screenSwitch.tsx';
import { DeviceNotices, type DeviceNotice } from './DeviceNotices.tsx';
import { DeviceTable, type DeviceActions } from './DeviceTable.tsx';
import { DeviceDialogs, type OpenDialog } from './DeviceDialogs.tsx';
import { deviceStatus } from './deviceText.ts';
import { DiscoverPanel } from './DiscoverPanel.tsx';
import { useDevices } from './useDevices.ts';
import './devices.css';

/** Kept while the technician visits other screens: whether discovery was open, and the notices not yet dismissed. */
const discoverOpenMemory = memoryKey<boolean>('devices.discoverOpen');
const noticesMemory = memoryKey<readonly DeviceNotice[]>('devices.notices');

/** Devices: the Pis this laptop knows, how to reach each, and first contact done safely. */
export function DevicesScreen() {
  const bridge = useBridge();
  const { value: devices, error, loading, reload } = useDevices();
  const discoveryRunning = useJobs().some((job) => job.kind === 'devices.discover' && job.state === 'running');
  const [discoverOpen, setDiscoverOpen] = useRememberedState(discoverOpenMemory, false);
  const [dialog, setDialog] = useState<OpenDialog | null>(null);
  const [notices, setNotices] = useRememberedState<readonly DeviceNotice[]>(noticesMemory, []);
  const [connecting, setConnecting] = useState<ReadonlySet<string>>(new Set());
  const openOnHealth = useRememberedSetter(openDeviceKey);
  const switchScreen = useSwitchScreen();

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
    open: (device) => {
      openOnHealth(device.id);
      switchScreen('health');
    },
  };

  const attention = devices?.filter((device) => deviceStatus(device).tone === 'warn' || deviceStatus(device).tone === 'danger').length ?? 0;
  return (
    <div className="screen devices-screen">
      <DevicesHeader
        summary={devices === null ? (loading ? 'Loading devices…' : '') : deviceCount(devices.length, attention)}
        discoverOpen={discoverOpen}
        discoveryRunning={discoveryRunning}
        onDiscover={() => {
          setDiscoverOpen(!discoverOpen);
        }}
        onAdd={() => {
          setDialog({ kind: 'add', prefill: null });
        }}
      />
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

      <DeviceDialogs dialog={dialog} onOpen={setDialog} onClose={close} showNotice={showNotice} dismissNotice={dismissNotice} />
    </div>
  );
}

function deviceCount(total: number, attention: number): string {
  if (total === 0) return 'No devices yet';
  const devices = `${total} device${total === 1 ? '' : 's'}`;
  return attention === 0 ? devices : `${devices} · ${attention} need${attention === 1 ? 's' : ''} attention`;
}

/** The screen's title, live count, and its two actions. */
function DevicesHeader(props: { summary: string; discoverOpen: boolean; discoveryRunning: boolean; onDiscover: () => void; onAdd: () => void }) {
  return (
    <header className="screen-header">
      <h1>Devices</h1>
      <p className="screen-summary num" aria-live="polite">
        {props.summary}
      </p>
      <span className="live-note">Updates live</span>
      <div className="header-actions">
        <Button
          className="button"
          onPress={props.onDiscover}
          aria-expanded={props.discoverOpen || props.discoveryRunning}
          isDisabled={props.discoveryRunning}
        >
          Discover
        </Button>
        <Button
          className="button is-primary"
          onPress={props.onAdd}
        >
          Add device…
        </Button>
      </div>
    </header>
  );
}
