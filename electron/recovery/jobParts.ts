/** What the restore and drill jobs share: the point's repositories opened, steps reported as progress, the run recorded with its runbook. */
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import { passwordSecret, resticRepoFor } from '../backup/index.ts';
import type { JobContext } from '../kernel/jobs/jobContext.ts';
import { openStore } from '../kernel/store/openStore.ts';
import type { PointParams } from './jobParams.ts';
import { createRecoveryRunStore, type NewRecoveryRun } from './recoveryRunStore.ts';
import type { RestoreSource } from './restoreTypes.ts';
import { saveRunbook, type RunbookInput } from './runbook.ts';
import { createStepRecorder, type StepRecorder } from './stepRecorder.ts';

export function sourceOf(point: PointParams, dataDir: string, secrets: Readonly<Record<string, string>>): RestoreSource {
  return {
    pointId: point.id,
    deviceId: point.deviceId,
    snapshots: point.classes.map((c) => {
      const password = secrets[passwordSecret(c.repo)];
      if (password === undefined) throw new FieldkitError(appError('INTERNAL', `The password of the ${c.repo.kind} repository did not reach the job.`, 'This is a bug in fieldkit; report it.'));
      return { class: c.class, resticId: c.resticId, repo: resticRepoFor(c.repo, password, dataDir) };
    }),
  };
}

/** Steps as the job's phase and log lines. */
export function jobSteps(ctx: JobContext): StepRecorder {
  let done = 0;
  return createStepRecorder((step, phase) => {
    if (phase === 'started') {
      ctx.progress({ phase: step.title, bytesDone: done, bytesTotal: null, unit: 'items' });
      return;
    }
    done++;
    ctx.log(step.status === 'failed' ? 'warn' : 'info', `${step.title}: ${step.status} in ${(step.durationMs / 1000).toFixed(1)} s${step.detail === null ? '' : ` — ${step.detail}`}`);
  });
}

export function errorOf(error: unknown): AppError {
  if (isFieldkitError(error)) return error.appError;
  return appError('INTERNAL', `The recovery failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`, 'Try again; if it repeats, report it with the job log.');
}

/** Records the run and writes its runbook; answers both (a failure to write the runbook is said, never fatal). */
export function recordRun(dataDir: string, run: Omit<NewRecoveryRun, 'runbookPath'>, runbook: RunbookInput, log: JobContext['log']): { id: number; runbookPath: string | null } {
  let runbookPath: string | null = null;
  try {
    runbookPath = saveRunbook(dataDir, runbook);
  } catch (error) {
    log('warn', `The runbook could not be written: ${error instanceof Error ? error.message : String(error)}`);
  }
  const db = openStore(dataDir);
  try {
    return { id: createRecoveryRunStore(db).record({ ...run, runbookPath }), runbookPath };
  } finally {
    db.close();
  }
}
