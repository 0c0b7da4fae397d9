/** The recovery methods' samples and stubs (spread into stubHandlers.ts, which is near its size limit). */
import type { MethodName, RequestOf } from '../../../shared/api.ts';
import type { ApiHandlers } from '../../../electron/kernel/api/dispatch.ts';

type RecoveryMethod = Extract<MethodName, `recovery.${string}`>;

export const sampleRecoveryRequests: { [M in RecoveryMethod]: RequestOf<M> } = {
  'recovery.points': { deviceId: 'dev_abc123' },
  'recovery.restore': { deviceId: 'dev_abc123', classes: ['config'] },
  'recovery.drill': { deviceId: 'dev_abc123', onto: 'dev_spare01' },
  'recovery.replace': { deviceId: 'dev_abc123', onto: { host: '10.0.0.41', port: 22, username: 'pi' }, spareHostKey: 'SHA256:abcdefghijklmnop', rotateCredentials: false },
  'recovery.history': { deviceId: 'dev_abc123' },
  'recovery.runbook': { runId: 1 },
};

export function createRecoveryStubs(record: (method: MethodName, params: unknown) => void): Pick<ApiHandlers, RecoveryMethod> {
  return {
    'recovery.points': (params) => {
      record('recovery.points', params);
      return Promise.resolve({ points: [], proposedId: null });
    },
    'recovery.restore': (params) => {
      record('recovery.restore', params);
      return Promise.resolve({ jobId: 'job_restore01' });
    },
    'recovery.drill': (params) => {
      record('recovery.drill', params);
      return Promise.resolve({ jobId: 'job_drill01' });
    },
    'recovery.replace': (params) => {
      record('recovery.replace', params);
      return Promise.resolve({ jobId: 'job_replace01' });
    },
    'recovery.history': (params) => {
      record('recovery.history', params);
      return Promise.resolve({ runs: [], drills: [] });
    },
    'recovery.runbook': (params) => {
      record('recovery.runbook', params);
      return Promise.resolve({ path: '/tmp/fieldkit/runbooks/1.md', markdown: '# Drill\n' });
    },
  };
}
