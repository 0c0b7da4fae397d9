/**
 * devices.provision: refuses what it can before a job exists (not a serial device, Wi-Fi
 * without its passphrase), hands the console password and the passphrase to the job as
 * secrets, and announces the device list when the job has registered the Pi's SSH link.
 */
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { EventBus } from '../kernel/api/eventBus.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import { serialPasswordSecret, type DeviceStore } from '../devices/index.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import type { provisionJobKinds } from './jobKinds.ts';
import type { SecretStore } from '../kernel/secrets/secretStore.ts';
import { provisionSecrets } from './provisionJob.ts';

export function createProvisionHandlers(deps: { devices: DeviceStore; jobs: JobRunner<typeof provisionJobKinds>; events: EventBus; secrets: SecretStore; dataDir: string }): Pick<ApiHandlers, 'devices.provision'> {
  return {
    'devices.provision': async ({ id, identity, network, wifiPsk, user, sshHost, sshPort, password }) => {
      const device = deps.devices.get(id);
      if (device.link.kind !== 'serial') {
        throw new FieldkitError(appError('BAD_REQUEST', `${device.name} is reached over ${device.link.kind}, not a serial console.`, 'Provisioning runs over the serial cable of a fresh Pi: add its serial port as a device and provision that.', 'id'));
      }
      if (network.mode === 'wifi' && wifiPsk === undefined) {
        throw new FieldkitError(appError('BAD_REQUEST', `Joining "${network.ssid}" needs its passphrase.`, 'Give the Wi-Fi passphrase (8–63 characters); it is never stored or shown.', 'wifiPsk'));
      }
      const saved = password ?? (await deps.secrets.get(serialPasswordSecret(id))) ?? '';
      const secrets: Record<string, string> = {};
      if (saved !== '') secrets[provisionSecrets.password] = saved;
      if (wifiPsk !== undefined) secrets[provisionSecrets.wifiPsk] = wifiPsk;
      const job = deps.jobs.start(
        'devices.provision',
        {
          dataDir: deps.dataDir,
          deviceRef: id,
          port: device.link.path,
          identity,
          network,
          user: user ?? device.link.username,
          ...(sshHost === undefined ? {} : { sshHost }),
          ...(sshPort === undefined ? {} : { sshPort }),
        },
        secrets,
      );
      void deps.jobs.whenFinished(job.id).then(async (record) => {
        // A console password that worked is kept, as devices.connect does: serial consoles ask at every login.
        if (record.state === 'done' && password !== undefined) await deps.secrets.set(serialPasswordSecret(id), password);
        deps.events.emit('devices.changed', { devices: deps.devices.list() });
      });
      return { jobId: job.id };
    },
  };
}
