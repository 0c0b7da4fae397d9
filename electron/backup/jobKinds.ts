/**
 * The backup domain's job kinds. Each kind's `run` loads its own module when a job of that
 * kind runs, so a worker backing up loads no verify/copy code, and the app (which needs only
 * the schemas and titles here) loads none of it.
 */
import { jobResultSchemas } from '../../shared/jobs.ts';
import { repoRoleLabels } from '../../shared/backup.ts';
import { defineJobKind } from '../kernel/jobs/jobKind.ts';
import { BackupRunParamsSchema, CopyParamsSchema, ForgetParamsSchema, VerifyParamsSchema } from './jobParams.ts';

export const backupJobKinds = {
  'backup.run': defineJobKind({
    params: BackupRunParamsSchema,
    title: (p) => `Back up ${p.devices.length === 1 ? (p.devices[0]?.name ?? '') : `${String(p.devices.length)} devices`} (${p.classes.join(', ')})`,
    run: async (p, ctx) => (await import('./backupJob.ts')).runBackup(p, ctx),
    result: jobResultSchemas['backup.run'],
    // Stops at once: the item in progress kills restic (no snapshot), nothing else to undo.
    cancelGraceMs: 10_000,
  }),
  'backup.verify': defineJobKind({
    params: VerifyParamsSchema,
    title: (p) => `Verify backups (${[...new Set(p.repos.map((r) => repoRoleLabels[r.role]))].join(', ')})`,
    run: async (p, ctx) => (await import('./verifyJob.ts')).runVerify(p, ctx),
    result: jobResultSchemas['backup.verify'],
    cancelGraceMs: 10_000,
  }),
  'backup.copy': defineJobKind({
    params: CopyParamsSchema,
    title: (p) => `Copy backups to the ${repoRoleLabels[p.to]}`,
    run: async (p, ctx) => (await import('./copyJob.ts')).runCopy(p, ctx),
    result: jobResultSchemas['backup.copy'],
    cancelGraceMs: 10_000,
  }),
  'backup.forget': defineJobKind({
    params: ForgetParamsSchema,
    title: (p) => `Apply backup retention${p.deviceId === null ? '' : ` to ${p.deviceId}`}${p.class === null ? '' : ` (${p.class})`}`,
    run: async (p, ctx) => (await import('./forgetJob.ts')).runForget(p, ctx),
    result: jobResultSchemas['backup.forget'],
    cancelGraceMs: 10_000,
  }),
};
