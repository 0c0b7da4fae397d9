/**
 * Starts the `deploy.rollout` job for a stored rollout, new or resumed, and keeps the rollout
 * honest when that job's worker dies: a worker killed mid-rollout cannot record it itself.
 */
import type { Rollout } from '../../shared/deploy.ts';
import { serialPasswordSecret, type DeviceStore } from '../devices/index.ts';
import type { EventBus } from '../kernel/api/eventBus.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import type { SecretStore } from '../kernel/secrets/secretStore.ts';
import type { deployJobKinds } from './jobKinds.ts';
import { rolloutPasswordSecret } from './rolloutJob.ts';
import { interruptedError, type RolloutStore } from './rolloutStore.ts';
import type { SlotPlatform } from './slots/slotUpdate.ts';

export type RolloutLaunchDeps = {
  /** devices.changed goes out when a rollout ends: it recorded what each device now runs. */
  events: EventBus;
  jobs: JobRunner<typeof deployJobKinds>;
  devices: DeviceStore;
  dataDir: string;
  secrets: SecretStore;
  /** For OS images: a virtual Pi's firmware files (tests); absent for real Pis. */
  slotPlatform?: SlotPlatform | undefined;
};

export type RolloutLaunch = (rollout: Rollout, resumed: boolean) => Promise<string>;

/** `launch(rollout, resumed)` resolves with the job's id once the job has taken the rollout on. */
export function createRolloutLaunch(deps: RolloutLaunchDeps, rollouts: RolloutStore): RolloutLaunch {
  /** Serial consoles may ask for a login each time: their passwords go to the worker as secrets. */
  async function secretsFor(deviceIds: readonly string[]): Promise<Record<string, string>> {
    const secrets: Record<string, string> = {};
    for (const id of deviceIds) {
      const device = deps.devices.find(id);
      if (device?.link.kind !== 'serial') continue;
      const password = await deps.secrets.get(serialPasswordSecret(id));
      if (password) secrets[rolloutPasswordSecret(id)] = password;
    }
    return secrets;
  }

  return async function launch(rollout: Rollout, resumed: boolean): Promise<string> {
    const deviceIds = rollout.devices.map((d) => d.deviceId);
    const job = deps.jobs.start(
      'deploy.rollout',
      { dataDir: deps.dataDir, rolloutId: rollout.id, version: rollout.version, deviceCount: deviceIds.length, resumed, ...(deps.slotPlatform === undefined ? {} : { slotPlatform: deps.slotPlatform }) },
      await secretsFor(deviceIds),
    );
    rollouts.attachJob(rollout.id, job.id, Date.now());
    // A worker killed (or crashed) mid-rollout cannot record that itself.
    void deps.jobs.whenFinished(job.id).then(
      () => {
        deps.events.emit('devices.changed', { devices: deps.devices.list() });
        const now = rollouts.get(rollout.id, { transcripts: false });
        if (now.state === 'running' && now.jobId === job.id) {
          rollouts.finish(rollout.id, 'stopped', 'The rollout job ended without finishing (its worker stopped); resume to carry on.', Date.now(), interruptedError());
        }
      },
      () => undefined,
    );
    return job.id;
  };
}
