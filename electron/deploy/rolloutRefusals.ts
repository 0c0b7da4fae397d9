/**
 * What deploy.start and deploy.resume refuse before a job exists: a device that runs on this
 * computer, and a device something else is already changing (an OS slot update, another
 * rollout). Each refusal names the devices and says what to do.
 */
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import type { RolloutStore } from './rolloutStore.ts';

/** A local link runs on this computer (the demo site): a deploy there would install a system service on the laptop itself. */
export function refuseLocal(devices: readonly Device[]): void {
  const local = devices.filter((d) => d.link.kind === 'local');
  if (local.length > 0) {
    throw new FieldkitError(
      appError(
        'BAD_REQUEST',
        `${local.map((d) => d.name).join(', ')} ${local.length === 1 ? 'runs' : 'run'} on this computer (a demo or local agent), not on a Pi.`,
        'Deploy to devices reached over SSH or a serial console; leave demo devices out.',
        'deviceIds',
      ),
    );
  }
}

/** Refuses devices under a running OS slot update or in another running rollout (`rolloutId`'s own devices aside). */
export function refuseBusy(jobs: Pick<JobRunner, 'list'>, rollouts: RolloutStore, rolloutId: string | null, deviceIds: readonly string[]): void {
  // An OS slot update (electron/deploy/slots) reboots the device under any deploy.
  const updating = jobs
    .list({ limit: 200, state: 'running' })
    .find((job) => job.kind === 'slots.update' && deviceIds.includes(String((job.params as { deviceId?: unknown } | null)?.deviceId)));
  if (updating !== undefined) {
    throw new FieldkitError(appError('CONFLICT', `${updating.title} is running (${updating.id}).`, `Wait for it to finish (fieldkit jobs show ${updating.id}), then start the rollout.`));
  }
  const busy = rollouts.busyDevices(rolloutId ?? '');
  const clash = deviceIds.flatMap((id) => {
    const b = busy.get(id);
    return b === undefined ? [] : [b];
  });
  const first = clash[0];
  if (first !== undefined) {
    throw new FieldkitError(
      appError(
        'CONFLICT',
        `${clash.map((c) => c.name).join(', ')} ${clash.length === 1 ? 'is' : 'are'} already being deployed by rollout ${first.rolloutId}.`,
        `Wait for that rollout to end, or cancel it (its job in the jobs panel, or fieldkit jobs cancel), then try again.`,
      ),
    );
  }
}
