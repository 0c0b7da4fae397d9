/**
 * Handlers for every method of the contract that answer with fixed, contract-valid values
 * and record what they were called with: enough to exercise a carrier without the real
 * services. A new method in shared/api.ts fails typechecking here until it has a stub
 * and a sample request.
 */
import type { MethodName, RequestOf } from '../../../shared/api.ts';
import type { JobRecord } from '../../../shared/jobs.ts';
import type { ApiHandlers } from '../../../electron/api/dispatch.ts';

export const sampleJob: JobRecord = {
  id: 'job_abc123',
  kind: 'drives.readCheck',
  title: 'Read check of /dev/sdz',
  params: { device: '/dev/sdz' },
  state: 'running',
  progress: { phase: 'reading', bytesDone: 1024, bytesTotal: 4096, rateBytesPerSec: null, etaSeconds: null },
  createdAt: 1_700_000_000_000,
  endedAt: null,
  result: null,
  error: null,
  log: [],
};

/** One valid request per method. */
export const sampleRequests: { [M in MethodName]: RequestOf<M> } = {
  'app.info': {},
  'drives.list': { imageSizeBytes: 8_000_000_000 },
  'drives.readCheck': { device: '/dev/sdz', maxBytes: 4096 },
  'jobs.list': { limit: 10 },
  'jobs.get': { jobId: sampleJob.id },
  'jobs.cancel': { jobId: sampleJob.id },
};

export type StubHandlers = { handlers: ApiHandlers; calls: Array<{ method: MethodName; params: unknown }> };

export function createStubHandlers(): StubHandlers {
  const calls: StubHandlers['calls'] = [];
  function record(method: MethodName, params: unknown): void {
    calls.push({ method, params });
  }
  const handlers: ApiHandlers = {
    'app.info': (params) => {
      record('app.info', params);
      return Promise.resolve({ name: 'fieldkit', version: '0.0.0-test', dataDir: '/tmp/fieldkit', platform: 'linux', arch: 'x64', runtime: 'Node test' });
    },
    'drives.list': (params) => {
      record('drives.list', params);
      return Promise.resolve({ drives: [] });
    },
    'drives.readCheck': (params) => {
      record('drives.readCheck', params);
      return Promise.resolve({ jobId: sampleJob.id });
    },
    'jobs.list': (params) => {
      record('jobs.list', params);
      return Promise.resolve({ jobs: [sampleJob] });
    },
    'jobs.get': (params) => {
      record('jobs.get', params);
      return Promise.resolve({ job: sampleJob });
    },
    'jobs.cancel': (params) => {
      record('jobs.cancel', params);
      return Promise.resolve({ job: { ...sampleJob, state: 'cancelled', endedAt: sampleJob.createdAt + 1 } });
    },
  };
  return { handlers, calls };
}
