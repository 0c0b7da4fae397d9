/**
 * The devices domain: the registered Pis (SSH, serial, local), their pinned host keys, how
 * to reach one and talk to its agent, and discovery. The other domains reach devices only
 * through what is exported here.
 */
import type { Device } from '../../shared/devices.ts';
import { defineDomain } from '../kernel/domain.ts';
import { serviceKey } from '../kernel/domainServices.ts';
import type { AppSshKey } from '../kernel/link/appSshKey.ts';
import { addDeviceCommands } from './cli/deviceCommands.ts';
import { createDeviceHandlers } from './deviceHandlers.ts';
import { serialPasswordSecret, type DeviceStore } from './deviceStore.ts';
import { devicesJobKinds } from './jobKinds.ts';

export { createDeviceStore, describeLink, linkKey, serialPasswordSecret, type DeviceStore } from './deviceStore.ts';
export { agentRpcCommand, openAgentSession, openDeviceLink, type AgentSession } from './deviceConnection.ts';
export { deviceFor, resolveDevice, resolveDeviceIds } from './cli/resolveDevice.ts';

/** What the running devices domain offers the others: the device store and how to log in to a device. */
export type DevicesService = {
  store: DeviceStore;
  /** fieldkit's own SSH key (made on first use). */
  appKey(): AppSshKey;
  /** A serial device's stored login password, if one was saved. */
  serialPassword(device: Device): Promise<string | undefined>;
};

export const devicesService = serviceKey<DevicesService>('the device store');

export const devicesDomain = defineDomain({
  name: 'devices',
  jobKinds: devicesJobKinds,
  start(kernel, services) {
    const devices = createDeviceHandlers(kernel);
    services.provide(devicesService, {
      store: devices.devices,
      appKey: () => devices.appKey(),
      serialPassword: async (device) => {
        const password = await kernel.secrets.get(serialPasswordSecret(device.id));
        return password === null || password === '' ? undefined : password;
      },
    });
    return { handlers: devices.handlers };
  },
  cliCommands: [addDeviceCommands],
  cliCommandFor: {
    'devices.list': 'devices list',
    'devices.add': 'devices add',
    'devices.update': 'devices update',
    'devices.remove': 'devices remove',
    'devices.scanHostKey': 'devices scan-key',
    'devices.trustHostKey': 'devices trust-key',
    'devices.forgetHostKey': 'devices forget-key',
    'devices.connect': 'devices connect',
    'devices.discover': 'devices discover',
  },
});
