/**
 * Runs each job in its own worker process and turns what the worker says into job
 * events and history. The runner, not the worker, decides the final state when the
 * worker misbehaves: a worker that exits without a final event fails the job, one that
 * ignores a cancel is killed after a grace period, and a result that is not what the
 * job's kind returns fails the job. The kinds are given to it (app/ composes them from
 * the domains); the worker script too, since the worker's entry lives in app/.
 *
 * Three parts: the worker process's lifecycle (workerProcess.ts), the bookkeeping that
 * turns its messages into events and history (jobRecorder.ts), and this file, which
 * starts jobs, cancels them and answers who is running.
 */
import { randomBytes } from 'node:crypto';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import type { JobKind, JobRecord, JobState } from '../../../shared/jobs.ts';
import type { EventBus } from '../api/eventBus.ts';
import type { JobKindMap, JobParamsOf } from './jobKind.ts';
import type { RunnerToWorker } from './jobProtocol.ts';
import { createJobRecorder, type RecordedJob } from './jobRecorder.ts';
import type { JobStore } from './jobStore.ts';
import { forkWorker, type WorkerLaunch, type WorkerProcess } from './workerProcess.ts';

export type { WorkerLaunch } from './workerProcess.ts';

type RunningJob = RecordedJob & {
  worker: WorkerProcess;
  /** This kind's grace after a cancel before the worker is killed. */
  cancelGraceMs: number;
  waiters: ((record: JobRecord) => void)[];
};

/**
 * The runner as code that starts jobs sees it. `M` is the kinds it may start: a domain's
 * handlers take `JobRunner<typeof itsKinds>`, so a start of its own kind is type-checked
 * without the domain knowing the others.
 */
export type JobRunner<M extends JobKindMap = JobKindMap> = {
  /** Starts a job; `secrets` go to its worker over IPC and are never written to job history. */
  start<K extends keyof M & JobKind>(kind: K, params: JobParamsOf<M[K]>, secrets?: Record<string, string>): JobRecord;
  /** Cancels a running job and resolves with its final record (a finished job: at once). */
  cancel(jobId: string, reason?: string): Promise<JobRecord>;
  whenFinished(jobId: string): Promise<JobRecord>;
  get(jobId: string): JobRecord | null;
  list(opts: { limit: number; state?: JobState | undefined }): JobRecord[];
  /** The worker's pid, for diagnostics and fault tests. */
  workerPid(jobId: string): number | undefined;
  /** The process that started the job, as its history records it (null: not recorded). */
  ownerPid(jobId: string): number | null;
  runningCount(): number;
  /** Cancels every running job and waits for each to end. */
  close(): Promise<void>;
};

export type JobRunnerOptions<M extends JobKindMap> = {
  /** Every kind this runner can start; the worker `launch` runs must know the same ones. */
  kinds: M;
  store: JobStore;
  bus: EventBus;
  /** The worker's entry (app/jobWorkerMain.ts, or its bundle). */
  launch: WorkerLaunch;
  cancelGraceMs?: number;
  now?: () => number;
};

export function createJobRunner<M extends JobKindMap>(options: JobRunnerOptions<M>): JobRunner<M> {
  const { store, launch } = options;
  const kinds: JobKindMap = options.kinds;
  const now = options.now ?? Date.now;
  const running = new Map<string, RunningJob>();
  const recorder = createJobRecorder<RunningJob>({
    store,
    bus: options.bus,
    now,
    ended(job) {
      job.worker.release();
      running.delete(job.id);
      const record = store.get(job.id);
      if (record) for (const waiter of job.waiters) waiter(record);
    },
  });

  function start(kind: JobKind, params: unknown, secrets?: Record<string, string>): JobRecord {
    const spec = kinds[kind];
    if (spec === undefined) {
      throw new FieldkitError(appError('INTERNAL', `This fieldkit cannot run ${kind} jobs: no domain contributes that kind.`, 'This is a bug in fieldkit; report it.'));
    }
    const parsed = spec.params.parse(params);
    const id = `job_${now().toString(36)}${randomBytes(5).toString('hex')}`;
    const title = spec.title(parsed);
    const createdAt = now();
    store.create({ id, kind, title, params: parsed, createdAt });
    const job: RunningJob = {
      id,
      kind,
      spec,
      worker: forkWorker(launch, {
        message: (message) => {
          recorder.message(job, message);
        },
        failed: (error) => {
          recorder.workerFailed(job, error);
        },
        gone: (code, signal) => {
          recorder.workerGone(job, code, signal);
        },
      }),
      ...recorder.track(() => job),
      // A runner configured with a grace (tests) uses it for every kind.
      cancelGraceMs: options.cancelGraceMs ?? spec.cancelGraceMs ?? 5000,
      waiters: [],
    };
    running.set(id, job);
    recorder.emit({ type: 'started', jobId: id, at: createdAt, kind, title });
    const startMessage: RunnerToWorker = { type: 'start', jobId: id, kind, params: parsed as never, ...(secrets ? { secrets } : {}) };
    job.worker.send(startMessage);
    const record = store.get(id);
    if (!record) throw new Error(`job ${id} vanished from the store`);
    return record;
  }

  function whenFinished(jobId: string): Promise<JobRecord> {
    const job = running.get(jobId);
    if (!job) {
      const record = store.get(jobId);
      return record ? Promise.resolve(record) : Promise.reject(notFound(jobId));
    }
    return new Promise((resolve) => job.waiters.push(resolve));
  }

  async function cancel(jobId: string, reason = 'cancelled by the technician'): Promise<JobRecord> {
    const job = running.get(jobId);
    if (!job) {
      const record = store.get(jobId);
      if (!record) throw notFound(jobId);
      if (record.state === 'running') {
        throw new FieldkitError(
          appError(
            'CONFLICT',
            `Job ${jobId} runs in another fieldkit process (pid ${String(store.ownerPid(jobId))}).`,
            'Cancel it from the window or terminal that started it.',
          ),
        );
      }
      return record; // already final: cancelling is a no-op, not an error
    }
    if (job.cancelReason === null) {
      job.cancelReason = reason;
      job.worker.cancel(reason, job.cancelGraceMs);
    }
    return whenFinished(jobId);
  }

  return {
    start,
    cancel,
    whenFinished,
    get: (jobId) => store.get(jobId),
    list: (opts) => store.list(opts),
    workerPid: (jobId) => running.get(jobId)?.worker.pid,
    ownerPid: (jobId) => store.ownerPid(jobId),
    runningCount: () => running.size,
    async close(): Promise<void> {
      await Promise.all([...running.keys()].map((id) => cancel(id, 'fieldkit is closing')));
    },
  };
}

function notFound(jobId: string): FieldkitError {
  return new FieldkitError(appError('NOT_FOUND', `There is no job ${jobId}.`, 'List jobs with `fieldkit jobs` and use one of their ids.'));
}
