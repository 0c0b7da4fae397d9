/** The recovery domain's job kinds. */
import { jobResultSchemas } from '../../shared/jobs.ts';
import { defineJobKind } from '../kernel/jobs/jobKind.ts';
import { runDrill } from './drillJob.ts';
import { DrillParamsSchema, RestoreParamsSchema } from './jobParams.ts';
import { runRestore } from './restoreJob.ts';
import { ReplaceParamsSchema } from './replaceParams.ts';
import { runReplace } from './replaceJob.ts';

export const recoveryJobKinds = {
  'recovery.restore': defineJobKind({
    params: RestoreParamsSchema,
    title: (p) => `Restore ${p.device.name} (${p.classes.join(', ')})`,
    run: runRestore,
    result: jobResultSchemas['recovery.restore'],
    // A cancel between steps starts the services again before it stops.
    cancelGraceMs: 30_000,
  }),
  'recovery.drill': defineJobKind({
    params: DrillParamsSchema,
    title: (p) => `Drill: restore ${p.device.name} onto ${p.spare.name}`,
    run: runDrill,
    result: jobResultSchemas['recovery.drill'],
    cancelGraceMs: 30_000,
  }),
  'recovery.replace': defineJobKind({
    params: ReplaceParamsSchema,
    title: (p) => `Replace ${p.deviceName} with ${p.spare.username}@${p.spare.host}:${String(p.spare.port)}`,
    run: runReplace,
    result: jobResultSchemas['recovery.replace'],
    cancelGraceMs: 30_000,
  }),
};
