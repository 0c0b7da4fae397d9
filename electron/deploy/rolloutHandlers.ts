/**
 * The deploy.* methods of the app API. A deploy to a few devices and a rollout to forty
 * are the same thing: a stored rollout (rolloutStore.ts) run by the `deploy.rollout` job
 * (rolloutJob.ts). Everything that can be refused is refused here, before a job exists.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { BundleSummary, Rollout, RolloutStartRequest } from '../../shared/deploy.ts';
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import type { EventBus } from '../kernel/api/eventBus.ts';
import { serialPasswordSecret, type DeviceStore } from '../devices/index.ts';
import { listTrustedKeys } from '../kernel/trust/trustStore.ts';
import type { JobRunner } from '../kernel/jobs/jobRunner.ts';
import type { SecretStore } from '../kernel/secrets/secretStore.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { inspectArtifact } from './deployArtifact.ts';
import type { deployJobKinds } from './jobKinds.ts';
import { rolloutPasswordSecret } from './rolloutJob.ts';
import { planBatches } from './rolloutPlan.ts';
import { createRolloutStore, interruptedError, type RolloutStore } from './rolloutStore.ts';
import type { SlotPlatform } from './slots/slotUpdate.ts';

type DeployMethods = 'deploy.inspect' | 'deploy.start' | 'deploy.list' | 'deploy.get' | 'deploy.resume';

export type RolloutHandlerDeps = {
  db: Store;
  /** devices.changed goes out when a rollout ends: it recorded what each device now runs. */
  events: EventBus;
  jobs: JobRunner<typeof deployJobKinds>;
  devices: DeviceStore;
  dataDir: string;
  secrets: SecretStore;
  /** For OS images: a virtual Pi's firmware files (tests); absent for real Pis. */
  slotPlatform?: SlotPlatform | undefined;
};

export function createRolloutHandlers(deps: RolloutHandlerDeps): { handlers: Pick<ApiHandlers, DeployMethods>; rollouts: RolloutStore } {
  const rollouts = createRolloutStore(deps.db);
  // Rollouts a killed app left 'running' are stopped now (and say why), so the screen
  // offers Resume instead of showing a rollout stuck forever. The jobs were already
  // failed as INTERRUPTED by the job store; one still running in another process is left.
  rollouts.stopOrphans((jobId) => deps.jobs.get(jobId)?.state === 'running', Date.now());

  async function inspect(bundlePath: string): Promise<BundleSummary> {
    return inspectArtifact(bundlePath, listTrustedKeys(deps.db));
  }

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

  function refuseBusy(rolloutId: string | null, deviceIds: readonly string[]): void {
    // An OS slot update (electron/deploy/slots) reboots the device under any deploy.
    const updating = deps.jobs
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

  /** Starts the job for a stored rollout and keeps the rollout honest if the worker dies. */
  async function launch(rollout: Rollout, resumed: boolean): Promise<string> {
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
  }

  /** A local link runs on this computer (the demo site): a deploy there would install a system service on the laptop itself. */
  function refuseLocal(devices: readonly Device[]): void {
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

  async function start(request: RolloutStartRequest): Promise<{ rolloutId: string; jobId: string }> {
    const devices = request.deviceIds.map((id) => deps.devices.get(id));
    refuseLocal(devices);
    refuseBusy(null, request.deviceIds);
    const bundle = await inspect(request.bundlePath);
    const problem = bundle.problems[0];
    if (problem !== undefined) {
      throw new FieldkitError(appError(problem.code, `Nothing was deployed: ${problem.message}`, problem.hint, 'bundlePath'));
    }
    const id = `ro_${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
    const seed = randomInt(0, 2 ** 31);
    const batches = request.batches ?? [devices.length];
    const names = new Map(devices.map((d) => [d.id, d.name]));
    const plan = planBatches(request.deviceIds, batches, request.order, seed).map((batch) => batch.map((deviceId) => ({ deviceId, deviceName: names.get(deviceId) ?? deviceId })));
    rollouts.create({
      id,
      bundlePath: request.bundlePath,
      bundleKind: bundle.kind,
      version: bundle.version,
      batches,
      maxFailurePercent: request.maxFailurePercent,
      settings: { order: request.order, seed, stableSeconds: request.stableSeconds },
      plan,
      now: Date.now(),
    });
    const jobId = await launch(rollouts.get(id, { transcripts: false }), false);
    return { rolloutId: id, jobId };
  }

  async function resume(rolloutId: string): Promise<string> {
    const rollout = rollouts.get(rolloutId, { transcripts: false });
    if (rollout.state === 'running') {
      throw new FieldkitError(appError('CONFLICT', `Rollout ${rolloutId} is running now (${rollout.jobId ?? 'no job'}).`, 'Wait for it to end or cancel its job; resume only a stopped rollout.', 'rolloutId'));
    }
    if (rollout.state === 'completed' && rollout.devices.every((d) => d.status === 'updated' || d.status === 'unchanged')) {
      throw new FieldkitError(appError('CONFLICT', `Rollout ${rolloutId} already completed on every device.`, 'Nothing to resume. Start a new rollout to deploy another bundle.', 'rolloutId'));
    }
    // The bundle is checked again: it may have been moved, altered or its key revoked since.
    const bundle = await inspect(rollout.bundlePath);
    const problem = bundle.problems[0];
    if (problem !== undefined) throw new FieldkitError(appError(problem.code, `Cannot resume: ${problem.message}`, problem.hint));
    if (bundle.version !== rollout.version) {
      throw new FieldkitError(
        appError('VERIFICATION_FAILED', `${rollout.bundlePath} is now version ${bundle.version}, but this rollout deploys ${rollout.version}.`, 'Put the original bundle back at that path, or start a new rollout with the new bundle.'),
      );
    }
    refuseLocal(rollout.devices.flatMap((d) => deps.devices.find(d.deviceId) ?? []));
    refuseBusy(rolloutId, rollout.devices.map((d) => d.deviceId));
    return launch(rollout, true);
  }

  return {
    rollouts,
    handlers: {
      'deploy.inspect': async ({ bundlePath }) => ({ bundle: await inspect(bundlePath) }),
      'deploy.start': (request) => start(request),
      // A refusal (an unknown id) rejects rather than throwing at the caller.
      'deploy.list': ({ limit }) => settle(() => ({ rollouts: rollouts.list(limit) })),
      'deploy.get': ({ rolloutId }) => settle(() => ({ rollout: rollouts.get(rolloutId) })),
      'deploy.resume': async ({ rolloutId }) => ({ jobId: await resume(rolloutId) }),
    },
  };
}

/** Runs `read` and settles with its value or its error, never throwing synchronously. */
function settle<T>(read: () => T): Promise<T> {
  try {
    return Promise.resolve(read());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
