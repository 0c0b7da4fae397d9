/**
 * Every kind of job and the code that runs it. The runner (in the app) uses a kind's
 * params schema and title; the worker process uses its `run`.
 */
import type { z } from 'zod';
import type { JobKind } from '../../../shared/jobs.ts';
import type { JobContext } from './jobContext.ts';
import { ReadCheckParamsSchema, runReadCheck } from '../../drives/readCheck.ts';
import { DiscoverParamsSchema, runDiscovery } from '../../devices/discovery/discoverDevices.ts';
import { PullParamsSchema, runPull } from '../../courier/pullDevice.ts';
import { ForwardParamsSchema, runForward } from '../../courier/forwardJob.ts';
import { FlashJobParamsSchema, flashJobTitle, runFlashJob } from '../../flash/flashJob.ts';
import { RolloutJobParamsSchema, rolloutJobTitle, runRollout } from '../../deploy/rolloutJob.ts';
import { createEngineDeployer } from '../../deploy/rolloutEngine.ts';
import { listTrustedKeys } from '../trust/trustStore.ts';
import { ProvisionJobParamsSchema, provisionJobTitle, runProvision } from '../../provision/provisionJob.ts';
import { SlotJobParamsSchema, runSlotUpdateJob, slotJobTitle } from '../../deploy/slots/slotJob.ts';
import { createSlotDeployer, isOsImagePath } from '../../deploy/slots/slotRollout.ts';

export type JobKindSpec<P> = {
  params: z.ZodType<P>;
  title(params: P): string;
  run(params: P, ctx: JobContext): Promise<unknown>;
  /** How long a cancelled worker may take to stop before it is killed (default: the runner's, 5 s). */
  cancelGraceMs?: number;
};

function defineJobKind<P>(spec: JobKindSpec<P>): JobKindSpec<P> {
  return spec;
}

export const jobKinds = {
  'drives.readCheck': defineJobKind({
    params: ReadCheckParamsSchema,
    title: (p) => `Read check of ${p.device}`,
    run: runReadCheck,
  }),
  'devices.discover': defineJobKind({
    params: DiscoverParamsSchema,
    title: (p) => (p.subnet === undefined ? 'Look for devices' : `Look for devices (and SSH on ${p.subnet})`),
    run: runDiscovery,
  }),
  'courier.pull': defineJobKind({
    params: PullParamsSchema,
    title: (p) => `Pull journals from ${p.deviceName}`,
    run: runPull,
  }),
  'courier.forward': defineJobKind({
    params: ForwardParamsSchema,
    title: () => 'Forward journals to ClickHouse',
    run: runForward,
  }),
  'flash.write': defineJobKind({
    params: FlashJobParamsSchema,
    title: flashJobTitle,
    run: runFlashJob,
  }),
  'deploy.rollout': defineJobKind({
    params: RolloutJobParamsSchema,
    title: rolloutJobTitle,
    run: (p, ctx) =>
      runRollout(p, ctx, ({ bundlePath, db }) =>
        isOsImagePath(bundlePath)
          ? createSlotDeployer({ dataDir: p.dataDir, trustedKeys: listTrustedKeys(db) })
          : createEngineDeployer({ dataDir: p.dataDir, bundlePath, trustedKeys: listTrustedKeys(db) }),
      ),
    // A cancel after a device switched finishes that device's rollback (restart, hello,
    // a short hold: ~10–20 s); killing the worker sooner would leave it to the device-side guard.
    cancelGraceMs: 90_000,
  }),
  'devices.provision': defineJobKind({
    params: ProvisionJobParamsSchema,
    title: provisionJobTitle,
    run: runProvision,
  }),
  'slots.update': defineJobKind({
    params: SlotJobParamsSchema,
    title: slotJobTitle,
    run: runSlotUpdateJob,
    // A cancel during the trial lets the engine put the device back on its old slot (a reboot, ~1 min).
    cancelGraceMs: 90_000,
  }),
} as const satisfies Record<JobKind, { params: z.ZodType; title: unknown; run: unknown }>;

export type JobParamsOf<K extends JobKind> = z.infer<(typeof jobKinds)[K]['params']>;
