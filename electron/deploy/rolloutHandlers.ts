/**
 * The deploy.* methods of the app API. A deploy to a few devices and a rollout to forty
 * are the same thing: a stored rollout (rolloutStore.ts) run by the `deploy.rollout` job
 * (rolloutJob.ts), started by rolloutLaunch.ts. Everything that can be refused is refused
 * here (rolloutRefusals.ts), before a job exists.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { BundleSummary, RolloutStartRequest } from '../../shared/deploy.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import { expandUserPath } from '../kernel/paths/userPath.ts';
import { listTrustedKeys } from '../kernel/trust/trustStore.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { inspectArtifact } from './deployArtifact.ts';
import { createRolloutLaunch, type RolloutLaunchDeps } from './rolloutLaunch.ts';
import { planBatches } from './rolloutPlan.ts';
import { refuseBusy, refuseLocal } from './rolloutRefusals.ts';
import { createRolloutStore, type RolloutStore } from './rolloutStore.ts';

type DeployMethods = 'deploy.inspect' | 'deploy.start' | 'deploy.list' | 'deploy.get' | 'deploy.resume';

export type RolloutHandlerDeps = RolloutLaunchDeps & { db: Store };

export function createRolloutHandlers(deps: RolloutHandlerDeps): { handlers: Pick<ApiHandlers, DeployMethods>; rollouts: RolloutStore } {
  const rollouts = createRolloutStore(deps.db);
  // Rollouts a killed app left 'running' are stopped now (and say why), so the screen
  // offers Resume instead of showing a rollout stuck forever. The jobs were already
  // failed as INTERRUPTED by the job store; one still running in another process is left.
  rollouts.stopOrphans((jobId) => deps.jobs.get(jobId)?.state === 'running', Date.now());

  async function inspect(bundlePath: string): Promise<BundleSummary> {
    return inspectArtifact(bundlePath, listTrustedKeys(deps.db));
  }

  const launch = createRolloutLaunch(deps, rollouts);

  async function start(request: RolloutStartRequest): Promise<{ rolloutId: string; jobId: string }> {
    const devices = request.deviceIds.map((id) => deps.devices.get(id));
    refuseLocal(devices);
    refuseBusy(deps.jobs, rollouts, null, request.deviceIds);
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
    refuseBusy(deps.jobs, rollouts, rolloutId, rollout.devices.map((d) => d.deviceId));
    return launch(rollout, true);
  }

  return {
    rollouts,
    handlers: {
      // Paths come as a person typed them: `~/bundles/…` is expanded here, for every carrier.
      'deploy.inspect': async ({ bundlePath }) => ({ bundle: await inspect(expandUserPath(bundlePath)) }),
      'deploy.start': (request) => start({ ...request, bundlePath: expandUserPath(request.bundlePath) }),
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
