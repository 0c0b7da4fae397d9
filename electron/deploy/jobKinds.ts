/** The deploy domain's job kinds: rollouts of bundles or OS images, and one Pi's OS slot update. */
import { jobResultSchemas } from '../../shared/jobs.ts';
import { defineJobKind } from '../kernel/jobs/jobKind.ts';
import { deployerFor } from './deployArtifact.ts';
import { RolloutJobParamsSchema, rolloutJobTitle, runRollout } from './rolloutJob.ts';
import { runSlotUpdateJob, SlotJobParamsSchema, slotJobTitle } from './slots/slotJob.ts';

export const deployJobKinds = {
  'deploy.rollout': defineJobKind({
    params: RolloutJobParamsSchema,
    title: rolloutJobTitle,
    run: (p, ctx) => runRollout(p, ctx, (rollout) => deployerFor(rollout, { dataDir: p.dataDir, slotPlatform: p.slotPlatform })),
    result: jobResultSchemas['deploy.rollout'],
    // A cancel after a device switched finishes that device's rollback (restart, hello,
    // a short hold: ~10–20 s); killing the worker sooner would leave it to the device-side guard.
    cancelGraceMs: 90_000,
  }),
  'slots.update': defineJobKind({
    params: SlotJobParamsSchema,
    title: slotJobTitle,
    run: runSlotUpdateJob,
    result: jobResultSchemas['slots.update'],
    // A cancel during the trial lets the engine put the device back on its old slot (a reboot, ~1 min).
    cancelGraceMs: 90_000,
  }),
};
