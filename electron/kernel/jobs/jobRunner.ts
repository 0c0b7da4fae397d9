/**
 * Runs each job in its own worker process and turns what the worker says into job
 * events and history. The runner, not the worker, decides the final state when the
 * worker misbehaves: a worker that exits without a final event fails the job, one that
 * ignores a cancel is killed after a grace period, and a result that is not what the
 * job's kind returns fails the job. The kinds are given to it (app/ composes them from
 * the domains); the worker script too, since the worker's entry lives in app/.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appError, FieldkitError, type AppError } from '../../../shared/errors.ts';
import { isFinalJobEvent, type JobEvent, type JobKind, type JobProgress, type JobRecord, type JobState } from '../../../shared/jobs.ts';
import type { EventBus } from '../api/eventBus.ts';
import type { JobKindMap, JobKindSpec, JobParamsOf } from './jobKind.ts';
import { WorkerToRunnerSchema, type RunnerToWorker, type WorkerToRunner } from './jobProtocol.ts';
import type { JobStore } from './jobStore.ts';
import { createProgressMeter, type ProgressMeter } from './progressMeter.ts';
import { createProgressThrottle, type ProgressThrottle } from './progressThrottle.ts';

/** How to start a worker: Node itself, or Electron's binary with ELECTRON_RUN_AS_NODE. */
export type WorkerLaunch = { execPath: string; script: string; env: Record<string, string> };

const progressIntervalMs = 100; // ≤ 10 progress events per second per job
const progressSaveIntervalMs = 1000;

type FinalMessage = Extract<WorkerToRunner, { type: 'done' | 'failed' | 'cancelled' }>;

type RunningJob = {
  id: string;
  kind: JobKind;
  spec: JobKindSpec;
  child: ChildProcess;
  meter: ProgressMeter;
  /** ≤ 10 progress events a second; a phase or drive state is never replaced unseen. */
  progress: ProgressThrottle<JobProgress>;
  lastSaveAt: number;
  lastProgress: JobProgress | null;
  killTimer: NodeJS.Timeout | null;
  /** This kind's grace after a cancel before the worker is killed. */
  cancelGraceMs: number;
  cancelReason: string | null;
  finished: boolean;
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
  const { store, bus, launch } = options;
  const kinds: JobKindMap = options.kinds;
  const now = options.now ?? Date.now;
  const running = new Map<string, RunningJob>();

  function emit(event: JobEvent): void {
    bus.emit('job.event', event);
  }

  /** What the job's progress throttle lets through, at `at`. */
  function emitProgress(job: RunningJob, progress: JobProgress, at: number): void {
    job.lastProgress = progress;
    emit({ type: 'progress', jobId: job.id, at, progress });
    if (at - job.lastSaveAt >= progressSaveIntervalMs) {
      job.lastSaveAt = at;
      store.saveProgress(job.id, progress);
    }
  }

  function finalize(job: RunningJob, state: Exclude<JobState, 'running'>, detail: { result?: unknown; error?: AppError; reason?: string }): void {
    if (job.finished) return;
    job.finished = true;
    if (job.killTimer) clearTimeout(job.killTimer);
    // The last bytes count is what a technician reads after the fact: never drop it.
    job.progress.flush();
    const at = now();
    if (job.lastProgress) store.saveProgress(job.id, job.lastProgress);
    store.finish(job.id, state, at, detail.result ?? null, detail.error ?? null);
    const event: JobEvent =
      state === 'done'
        ? { type: 'done', jobId: job.id, at, result: (detail.result ?? null) as never }
        : state === 'failed'
          ? { type: 'failed', jobId: job.id, at, error: detail.error ?? unknownFailure(), ...(detail.result === undefined ? {} : { result: detail.result as never }) }
          : { type: 'cancelled', jobId: job.id, at, reason: detail.reason ?? 'cancelled', ...(detail.result === undefined ? {} : { result: detail.result as never }) };
    if (!isFinalJobEvent(event)) throw new Error('unreachable');
    emit(event);
    running.delete(job.id);
    const record = store.get(job.id);
    if (record) for (const waiter of job.waiters) waiter(record);
  }

  function onWorkerMessage(job: RunningJob, message: WorkerToRunner): void {
    if (job.finished) return;
    switch (message.type) {
      case 'progress':
        job.progress.offer(job.meter.update(message.progress, now()));
        return;
      case 'log': {
        const at = now();
        store.log(job.id, at, message.level, message.message);
        emit({ type: 'log', jobId: job.id, at, level: message.level, message: message.message });
        return;
      }
      case 'done':
      case 'failed':
      case 'cancelled':
        onFinalMessage(job, message);
        return;
    }
  }

  /**
   * The worker's final word, its result checked against the kind's schema: the result
   * crosses a process here, and what a worker sends may be wrong. A result that does not
   * parse is never recorded as if it were one; the job fails saying so.
   */
  function onFinalMessage(job: RunningJob, message: FinalMessage): void {
    const checked = checkResult(job, message);
    if (!checked.ok) {
      finalize(job, 'failed', { error: checked.error });
      return;
    }
    const result = checked.result === undefined ? {} : { result: checked.result };
    if (message.type === 'done') finalize(job, 'done', result);
    else if (message.type === 'failed') finalize(job, 'failed', { error: message.error, ...result });
    else finalize(job, 'cancelled', { reason: job.cancelReason ?? message.reason, ...result });
  }

  function onWorkerGone(job: RunningJob, code: number | null, signal: NodeJS.Signals | null): void {
    if (job.finished) return;
    if (job.cancelReason !== null) {
      finalize(job, 'cancelled', { reason: `${job.cancelReason} (the job did not stop by itself and was stopped forcibly)` });
      return;
    }
    const how = signal ? `was killed by ${signal}` : `exited with code ${String(code)}`;
    finalize(job, 'failed', {
      error: appError(
        'WORKER_DIED',
        `The job's worker process ${how} before it finished.`,
        'Run the job again. If it keeps happening, check free memory and the drive or device it was working on.',
      ),
    });
  }

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
    const child = fork(launch.script, [], {
      execPath: launch.execPath,
      env: { ...process.env, ...launch.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    const job: RunningJob = {
      id,
      kind,
      spec,
      child,
      meter: createProgressMeter(),
      // A phase or drive state is never replaced unseen (a one-second "checking image" would
      // vanish between two events): the superseded event goes out at once. Such steps are
      // rare, so the rate stays about 10/s.
      progress: createProgressThrottle(
        (progress: JobProgress, at: number) => {
          emitProgress(job, progress, at);
        },
        { intervalMs: progressIntervalMs, now, keepsApart: (kept, next) => milestoneOf(kept) !== milestoneOf(next) },
      ),
      lastSaveAt: 0,
      lastProgress: null,
      killTimer: null,
      // A runner configured with a grace (tests) uses it for every kind.
      cancelGraceMs: options.cancelGraceMs ?? spec.cancelGraceMs ?? 5000,
      cancelReason: null,
      finished: false,
      waiters: [],
    };
    running.set(id, job);
    child.on('message', (raw: unknown) => {
      const message = WorkerToRunnerSchema.safeParse(raw);
      if (message.success) onWorkerMessage(job, message.data);
    });
    child.on('error', (error) => {
      finalize(job, 'failed', {
        error: appError('WORKER_DIED', `Could not start the job's worker: ${error.message}`, 'Reinstall fieldkit; its files may be incomplete.'),
      });
    });
    child.on('close', (code, signal) => {
      onWorkerGone(job, code, signal);
    });
    emit({ type: 'started', jobId: id, at: createdAt, kind, title });
    const startMessage: RunnerToWorker = { type: 'start', jobId: id, kind, params: parsed as never, ...(secrets ? { secrets } : {}) };
    child.send(startMessage);
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
      const message: RunnerToWorker = { type: 'cancel', reason };
      if (job.child.connected) job.child.send(message);
      job.killTimer = setTimeout(() => job.child.kill('SIGKILL'), job.cancelGraceMs);
    }
    return whenFinished(jobId);
  }

  return {
    start,
    cancel,
    whenFinished,
    get: (jobId) => store.get(jobId),
    list: (opts) => store.list(opts),
    workerPid: (jobId) => running.get(jobId)?.child.pid,
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

type CheckedResult = { ok: true; result: unknown } | { ok: false; error: AppError };

/** The final message's result parsed with its kind's schema (`undefined`: it carried none, which only a stopped job may). */
function checkResult(job: RunningJob, message: FinalMessage): CheckedResult {
  const raw = message.result;
  const schema = message.type === 'done' ? job.spec.result : (job.spec.stoppedResult ?? job.spec.result);
  if (raw === undefined && message.type !== 'done') return { ok: true, result: undefined };
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, result: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.map(String).join('.')}`;
  const ended = message.type === 'done' ? 'finished' : message.type === 'failed' ? `failed (${message.error.message})` : 'was cancelled';
  return {
    ok: false,
    error: appError(
      'INTERNAL',
      `The ${job.kind} job ${ended}, but its result is not what a ${job.kind} job returns (${issue?.message ?? 'not valid'}${where}), so it was not recorded.`,
      'This is a bug in fieldkit; report it with the job log. Check what the job worked on (the drive or the device) before relying on it.',
    ),
  };
}

function unknownFailure(): AppError {
  return appError('INTERNAL', 'The job failed without saying why.', 'Run it again; if it repeats, report it with the job log.');
}

/** What a technician must see change: the phase and each target's state, not the byte counts. */
function milestoneOf(progress: JobProgress): string {
  return [progress.phase, ...(progress.targets ?? []).map((t) => `${t.device}:${t.state}`)].join('|');
}
