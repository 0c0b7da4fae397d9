import { useState } from 'react';
import type { Device } from '../../../shared/devices.ts';
import { useApi, useEvent, type ApiQuery } from '../api/hooks.ts';

type Pushed = { devices: Device[]; after: unknown };

/**
 * The registered devices, live: listed on mount and after a reconnect, then replaced by
 * every `devices.changed` (sent after each add, edit, host key change and contact).
 * Whichever arrived last wins, as for drives.
 */
export function useDevices(): ApiQuery<Device[]> {
  const listed = useApi('devices.list', {});
  const [pushed, setPushed] = useState<Pushed | null>(null);
  useEvent('devices.changed', ({ devices }) => {
    setPushed({ devices, after: listed.value });
  });
  const devices = pushed !== null && pushed.after === listed.value ? pushed.devices : (listed.value?.devices ?? null);
  return { ...listed, value: devices };
}
