/**
 * A running job's bookkeeping: what its worker says becomes job events on the bus and
 * history in the store. Progress goes out at most 10 times a second (a phase or target
 * state never replaced unseen) and is saved at most once a second; the final state is
 * decided here, once: the worker's final word with its result checked against the kind's
 * schema, or a failure saying how the worker ended without one.
 */
import { appError, type AppError } from '../../../shared/errors.ts';
import { isFinalJobEvent, type JobEvent, type JobKind, type JobProgress, type JobState } from '../../../shared/jobs.ts';
import type { EventBus } from '../api/eventBus.ts';
import type { JobKindSpec } from './jobKind.ts';
import type { WorkerToRunner } from './jobProtocol.ts';
import type { JobStore } from './jobStore.ts';
import { createProgressMeter, type ProgressMeter } from './progressMeter.ts';
import { createProgressThrottle, type ProgressThrottle } from './progressThrottle.ts';

const progressIntervalMs = 100; // ≤ 10 progress events per second per job
const progressSaveIntervalMs = 1000;

type FinalMessage = Extract<WorkerToRunner, { type: 'done' | 'failed' | 'cancelled' }>;

/** What is tracked of a job while it runs. */
export type RecordedJob = {
  readonly id: string;
  readonly kind: JobKind;
  readonly spec: JobKindSpec;
  meter: ProgressMeter;
  /** ≤ 10 progress events a second; a phase or drive state is never replaced unseen. */
  progress: ProgressThrottle<JobProgress>;
  lastSaveAt: number;
  lastProgress: JobProgress | null;
  /** Set by a cancel: the reason a cancelled job ends with. */
  cancelReason: string | null;
  finished: boolean;
};

export type JobRecorderOptions<J extends RecordedJob> = {
  store: JobStore;
  bus: EventBus;
  now: () => number;
  /** The job has its final state, recorded and emitted. */
  ended(job: J): void;
};

export type JobRecorder<J extends RecordedJob> = ReturnType<typeof createJobRecorder<J>>;

export function createJobRecorder<J extends RecordedJob>(options: JobRecorderOptions<J>) {
  const { store, bus, now } = options;

  function emit(event: JobEvent): void {
    bus.emit('job.event', event);
  }

  /** What the job's progress throttle lets through, at `at`. */
  function emitProgress(job: J, progress: JobProgress, at: number): void {
    job.lastProgress = progress;
    emit({ type: 'progress', jobId: job.id, at, progress });
    if (at - job.lastSaveAt >= progressSaveIntervalMs) {
      job.lastSaveAt = at;
      store.saveProgress(job.id, progress);
    }
  }

  function finalize(job: J, state: Exclude<JobState, 'running'>, detail: { result?: unknown; error?: AppError; reason?: string }): void {
    if (job.finished) return;
    job.finished = true;
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
    options.ended(job);
  }

  /**
   * The worker's final word, its result checked against the kind's schema: the result
   * crosses a process here, and what a worker sends may be wrong. A result that does not
   * parse is never recorded as if it were one; the job fails saying so.
   */
  function onFinalMessage(job: J, message: FinalMessage): void {
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

  return {
    emit,
    /** A new job's bookkeeping; `job` is the job it becomes part of (read when progress goes out). */
    track(job: () => J): Omit<RecordedJob, 'id' | 'kind' | 'spec'> {
      return {
        meter: createProgressMeter(),
        // A phase or drive state is never replaced unseen (a one-second "checking image" would
        // vanish between two events): the superseded event goes out at once. Such steps are
        // rare, so the rate stays about 10/s.
        progress: createProgressThrottle(
          (progress: JobProgress, at: number) => {
            emitProgress(job(), progress, at);
          },
          { intervalMs: progressIntervalMs, now, keepsApart: (kept, next) => milestoneOf(kept) !== milestoneOf(next) },
        ),
        lastSaveAt: 0,
        lastProgress: null,
        cancelReason: null,
        finished: false,
      };
    },
    message(job: J, message: WorkerToRunner): void {
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
    },
    workerFailed(job: J, error: Error): void {
      finalize(job, 'failed', {
        error: appError('WORKER_DIED', `Could not start the job's worker: ${error.message}`, 'Reinstall fieldkit; its files may be incomplete.'),
      });
    },
    /** The worker is gone; without a final word from it the job failed, or was stopped forcibly after a cancel. */
    workerGone(job: J, code: number | null, signal: NodeJS.Signals | null): void {
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
    },
  };
}

type CheckedResult = { ok: true; result: unknown } | { ok: false; error: AppError };

/** The final message's result parsed with its kind's schema (`undefined`: it carried none, which only a stopped job may). */
function checkResult(job: RecordedJob, message: FinalMessage): CheckedResult {
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
  return [progress.phase, ...(progress.targets ?? []).map((t) => `${t.device}:${t.state}`), ...(progress.visit?.devices ?? []).map((d) => `${d.deviceRef}:${d.state}`)].join('|');
}
