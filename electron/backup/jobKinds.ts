/** The backup domain's job kinds. */
import { jobResultSchemas } from '../../shared/jobs.ts';
import { repoRoleLabels } from '../../shared/backup.ts';
import { defineJobKind } from '../kernel/jobs/jobKind.ts';
import { runCopy } from './copyJob.ts';
import { runForget } from './forgetJob.ts';
import { CopyParamsSchema, ForgetParamsSchema, VerifyParamsSchema } from './jobParams.ts';
import { BackupRunParamsSchema, runBackup } from './backupJob.ts';
import { runVerify } from './verifyJob.ts';

export const backupJobKinds = {
  'backup.run': defineJobKind({
    params: BackupRunParamsSchema,
    title: (p) => `Back up ${p.devices.length === 1 ? (p.devices[0]?.name ?? '') : `${String(p.devices.length)} devices`} (${p.classes.join(', ')})`,
    run: runBackup,
    result: jobResultSchemas['backup.run'],
    // Stops at once: the item in progress kills restic (no snapshot), nothing else to undo.
    cancelGraceMs: 10_000,
  }),
  'backup.verify': defineJobKind({
    params: VerifyParamsSchema,
    title: (p) => `Verify backups (${[...new Set(p.repos.map((r) => repoRoleLabels[r.role]))].join(', ')})`,
    run: runVerify,
    result: jobResultSchemas['backup.verify'],
    cancelGraceMs: 10_000,
  }),
  'backup.copy': defineJobKind({
    params: CopyParamsSchema,
    title: (p) => `Copy backups to the ${repoRoleLabels[p.to]}`,
    run: runCopy,
    result: jobResultSchemas['backup.copy'],
    cancelGraceMs: 10_000,
  }),
  'backup.forget': defineJobKind({
    params: ForgetParamsSchema,
    title: (p) => `Apply backup retention${p.deviceId === null ? '' : ` to ${p.deviceId}`}${p.class === null ? '' : ` (${p.class})`}`,
    run: runForget,
    result: jobResultSchemas['backup.forget'],
    cancelGraceMs: 10_000,
  }),
};
