/**
 * The slots.* methods of the app API. Everything that can be refused is refused here,
 * before a job exists: an unknown device, one not reached over SSH, an image that is not
 * signed by a trusted key (or was changed after signing), a device another job is
 * already changing.
 */
import path from 'node:path';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import type { ApiHandlers } from '../../kernel/api/dispatch.ts';
import { createRolloutStore } from '../rolloutStore.ts';
import type { DeviceStore } from '../../devices/index.ts';
import { checkImageManifestTrusted, listTrustedKeys } from '../../kernel/trust/trustStore.ts';
import type { JobRunner } from '../../kernel/jobs/jobRunner.ts';
import type { Store } from '../../kernel/store/openStore.ts';
import type { deployJobKinds } from '../jobKinds.ts';
import type { SlotJobParams } from './slotJob.ts';
import type { SlotPlatform } from './slotUpdate.ts';

export type SlotHandlerDeps = {
  db: Store;
  jobs: JobRunner<typeof deployJobKinds>;
  devices: DeviceStore;
  dataDir: string;
  /** A virtual Pi's firmware files (tests); absent for real Pis. */
  platform?: SlotPlatform | undefined;
};

export function createSlotHandlers(deps: SlotHandlerDeps): Pick<ApiHandlers, 'slots.update'> {
  const rollouts = createRolloutStore(deps.db);

  function refuseBusy(deviceId: string, name: string): void {
    const rollout = rollouts.busyDevices('').get(deviceId);
    if (rollout !== undefined) {
      throw new FieldkitError(appError('CONFLICT', `${name} is being deployed by rollout ${rollout.rolloutId}.`, 'Wait for that rollout to end, or cancel it, then update the OS.'));
    }
    const running = deps.jobs
      .list({ limit: 200, state: 'running' })
      .find((job) => job.kind === 'slots.update' && (job.params as Partial<SlotJobParams> | null)?.deviceId === deviceId);
    if (running !== undefined) {
      throw new FieldkitError(appError('CONFLICT', `${name} is already being updated (${running.id}).`, `Wait for it to finish (fieldkit jobs show ${running.id}); a second update at once would fight over the same slot.`));
    }
  }

  return {
    'slots.update': async (request) => {
      const device = deps.devices.find(request.deviceId);
      if (device === null) {
        throw new FieldkitError(appError('NOT_FOUND', `No device has the id ${request.deviceId}.`, 'List devices with `fieldkit devices list` and use one of their ids.', 'deviceId'));
      }
      if (device.link.kind !== 'ssh') {
        throw new FieldkitError(
          appError('BAD_REQUEST', `${device.name} is reached over ${device.link.kind === 'serial' ? 'a serial console' : 'this computer'}, not SSH; a slot update streams hundreds of megabytes and reboots the device.`, 'Reach the Pi over the network (add it with its SSH address), or flash its card instead.', 'deviceId'),
        );
      }
      if (device.hostKeyFingerprint === null) {
        throw new FieldkitError(appError('HOST_KEY_UNTRUSTED', `${device.name} has no accepted host key yet.`, 'Scan and accept its host key in Devices (fieldkit devices scan-key / trust-key), then update.'));
      }
      // The manifest and every signature, before a job exists (the job verifies the payload in full).
      await checkImageManifestTrusted(listTrustedKeys(deps.db), path.resolve(request.imagePath));
      refuseBusy(device.id, device.name);
      const { platform } = deps;
      const params: SlotJobParams = {
        dataDir: deps.dataDir,
        deviceId: device.id,
        deviceName: device.name,
        imagePath: path.resolve(request.imagePath),
        rehearse: request.rehearse,
        bootTimeoutMs: request.bootTimeoutSeconds * 1000,
        ...(platform === undefined ? {} : { platform }),
      };
      const job = deps.jobs.start('slots.update', params);
      return { jobId: job.id };
    },
  };
}
