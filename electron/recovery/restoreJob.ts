/**
 * The recovery.restore job: classes of a restore point put back onto the same device. The
 * snapshot is checked first (a bad one is refused before anything changes, naming it and
 * offering the previous point); then the device's current state is backed up (a restore
 * point of its own, so this restore can be undone); then restoreOnto and the service checks.
 */
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { RecoveryCheck, RestoreResult } from '../../shared/recovery.ts';
import { runBackup } from '../backup/index.ts';
import { openDeviceLink } from '../devices/index.ts';
import { JobCancelledError, JobFailedError, type JobContext } from '../kernel/jobs/jobContext.ts';
import { loadOrCreateAppSshKey } from '../kernel/link/appSshKey.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import { restoreTargetFor, serviceTargetFor } from './deviceTarget.ts';
import type { RestoreParams } from './jobParams.ts';
import { errorOf, jobSteps, recordRun, sourceOf } from './jobParts.ts';
import { restoreOnto, RestoreRefusedError } from './restoreOnto.ts';
import { handOver, readHead, type JournalHead, type RewindTarget, type RewoundJournal } from './rewoundJournal.ts';
import { verifyService } from './verifyService.ts';

async function backupFirst(params: RestoreParams, ctx: JobContext): Promise<string> {
  const refuse = (why: string) => new FieldkitError(appError('IO_ERROR', `The current state of ${params.device.name} could not be backed up first (${why}), so the restore could not be undone. Nothing on the device was changed.`, 'Fix what the backup says, then restore again.'));
  try {
    await runBackup(
      { dataDir: params.dataDir, runId: params.backupFirst.runId, devices: [{ ref: params.device.id, name: params.device.name }], classes: params.backupFirst.classes, windowStartMs: Date.now(), repos: params.backupFirst.repos, extraPaths: params.backupFirst.extraPaths },
      ctx,
    );
  } catch (error) {
    // runBackup throws JobFailedError when any class failed: nothing of a failed class counts.
    if (error instanceof JobFailedError) throw refuse(error.appError.message);
    throw error;
  }
  return params.backupFirst.runId;
}

export async function runRestore(params: RestoreParams, ctx: JobContext): Promise<RestoreResult> {
  const startedAt = Date.now();
  const steps = jobSteps(ctx);
  const device = params.device;
  let link: Link | null = null;
  // Set inside restoreOnto's beforeChanges (a holder: TypeScript sees the write).
  const undo: { pointId: string | null } = { pointId: null };
  // A state restore rewinds the journal: the agent must go on in a new one (rewoundJournal.ts).
  const journal: { before: JournalHead | null; handedOver: RewoundJournal | null } = { before: null, handedOver: null };
  let checks: RecoveryCheck[] = [];
  let failure: unknown = null;
  try {
    const source = sourceOf(params.point, params.dataDir, ctx.secrets);
    const opened = await steps.step('connect', `Connect to ${device.name}`, async (cmd) => {
      const l = await openDeviceLink(device, { appKey: loadOrCreateAppSshKey(params.dataDir) });
      cmd.detail(l.describe);
      return l;
    });
    link = opened;
    const service = serviceTargetFor(device, opened);
    const rewind: RewindTarget = { name: device.name, link: opened, deviceId: params.point.deviceId, agentAsService: service.agentAsService };
    const state = params.classes.includes('state');
    await restoreOnto(source, restoreTargetFor(device, opened, { expectedDeviceId: params.point.deviceId }), {
      classes: params.classes,
      signal: ctx.signal,
      steps,
      beforeChanges: async () => {
        undo.pointId = await steps.step('backup-before', `Back up ${device.name} as it is now (so this restore can be undone)`, async (cmd) => {
          const id = await backupFirst(params, ctx);
          cmd.detail(`restore point ${id}: fieldkit restore ${device.name} --snapshot ${id} undoes this restore`);
          return id;
        });
      },
      ...(state
        ? {
            afterStop: async () => {
              journal.before = await steps.step('journal-head', `Read where ${device.name}'s journal stopped`, async (cmd) => {
                const head = await readHead(cmd, rewind);
                cmd.detail(`journal ${head.journalId} at seq ${String(head.lastSeq)}`);
                return head;
              });
            },
            beforeStart: async () => {
              if (journal.before !== null) journal.handedOver = await handOver(steps, rewind, params.dataDir, { before: journal.before, undoPointId: undo.pointId });
            },
          }
        : {}),
    });
    // After a state restore the agent writes a new journal whose seq 1 names the restored one.
    const expected = journal.handedOver === null ? { journalId: null, journalLastSeq: null } : { journalId: journal.handedOver.newJournalId, journalLastSeq: 1 };
    checks = (await verifyService(service, { deviceId: params.point.deviceId, ...expected, thresholds: params.thresholds }, steps, ctx.signal)).checks;
  } catch (error) {
    failure = error;
  } finally {
    await link?.close().catch(() => undefined);
  }
  const ok = failure === null && checks.every((c) => c.ok);
  let appErr = failure === null ? null : errorOf(failure);
  if (failure instanceof RestoreRefusedError && params.point.previousId !== null) {
    appErr = { ...failure.appError, hint: `Restore the previous restore point instead: fieldkit restore ${device.name} --snapshot ${params.point.previousId}` };
  }
  const recorded = recordRun(
    params.dataDir,
    { kind: 'restore', jobId: null, deviceRef: device.id, deviceName: device.name, targetRef: device.id, targetName: device.name, pointId: params.point.id, startedMs: startedAt, endedMs: Date.now(), ok, rtoMs: Date.now() - startedAt, rpoAgeSeconds: (startedAt - params.point.time) / 1000, error: appErr, result: { steps: steps.steps(), checks } },
    { kind: 'restore', deviceName: device.name, targetName: device.name, pointId: params.point.id, pointTime: params.point.time, classes: params.classes, startedAt, ok, error: appErr?.message ?? null, steps: steps.steps(), checks, rtoMs: Date.now() - startedAt, rpo: null },
    (level, message) => { ctx.log(level, message); },
  );
  const undoPointId = undo.pointId;
  const result: RestoreResult = { deviceRef: device.id, deviceName: device.name, pointId: params.point.id, classes: params.classes, undoPointId, steps: steps.steps(), checks, ok, durationMs: Date.now() - startedAt, runbookPath: recorded.runbookPath, recoveryRunId: recorded.id };
  if (failure instanceof JobCancelledError || ctx.signal.aborted) throw new JobCancelledError('cancelled', result);
  if (appErr !== null) throw new JobFailedError(appErr, result);
  if (!ok) throw new JobFailedError(appError('VERIFICATION_FAILED', `${device.name} was restored but does not work as it should: ${checks.filter((c) => !c.ok).map((c) => `${c.name} — ${c.detail}`).join('; ')}.`, undoPointId === null ? 'Check the device.' : `Undo it with: fieldkit restore ${device.name} --snapshot ${undoPointId}`), result);
  return result;
}
