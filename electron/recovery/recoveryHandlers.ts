/** The recovery.* methods. */
import { readFileSync } from 'node:fs';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { createBackupRunStore } from '../backup/index.ts';
import type { DeviceStore } from '../devices/index.ts';
import type { ApiHandlers } from '../kernel/api/dispatch.ts';
import type { KernelServices } from '../kernel/domain.ts';
import { drillFreshness } from './drillFreshness.ts';
import { createRecoveryRunStore } from './recoveryRunStore.ts';
import { createReplaceHandler } from './replaceHandler.ts';

type Methods = 'recovery.points' | 'recovery.restore' | 'recovery.drill' | 'recovery.replace' | 'recovery.history' | 'recovery.runbook';

function notYet(): Promise<never> {
  return Promise.reject(new FieldkitError(appError('UNAVAILABLE', 'Restore is being written.', 'Use a build with issue 15.')));
}

export function createRecoveryHandlers(kernel: KernelServices, devices: DeviceStore): Pick<ApiHandlers, Methods> {
  const runs = createRecoveryRunStore(kernel.db);
  const backups = createBackupRunStore(kernel.db);
  return {
    'recovery.points': notYet,
    'recovery.restore': notYet,
    'recovery.drill': notYet,
    'recovery.replace': createReplaceHandler(kernel, devices),
    'recovery.history': ({ deviceId, limit }) => Promise.resolve({ runs: runs.list({ deviceRef: deviceId, limit }), drills: drillFreshness(devices.list(), backups, runs, Date.now()) }),
    'recovery.runbook': ({ runId }) => {
      const run = runs.get(runId);
      if (run?.runbookPath == null) return Promise.reject(new FieldkitError(appError('NOT_FOUND', `Recovery run ${String(runId)} has no runbook.`, 'List them with: fieldkit drill --history')));
      return Promise.resolve({ path: run.runbookPath, markdown: readFileSync(run.runbookPath, 'utf8') });
    },
  };
}
