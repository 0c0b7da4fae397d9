/**
 * The loop of a job's worker process. It runs exactly one job and ends with exactly one
 * final message (done, failed or cancelled); if it dies before that, the runner fails
 * the job itself. The process's entry (app/jobWorkerMain.ts) calls `runJobWorker` with
 * how to load a kind the domains contribute (only the job's own is loaded); the runner
 * starts it with an IPC channel.
 */
import type { JobKind } from '../../../shared/jobs.ts';
import { appError, isFieldkitError } from '../../../shared/errors.ts';
import type { JobKindSpec } from './jobKind.ts';
import { JobCancelledError, JobFailedError } from './jobContext.ts';
import { RunnerToWorkerSchema, toJsonValue, type WorkerToRunner } from './jobProtocol.ts';

function send(message: WorkerToRunner): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) {
      resolve();
      return;
    }
    process.send(message, undefined, undefined, () => {
      resolve();
    });
  });
}

/** The spec of one kind, loaded when its job arrives; undefined when no domain contributes it. */
export type JobKindLoader = (kind: JobKind) => Promise<JobKindSpec | undefined>;

async function runJob(load: JobKindLoader, kind: JobKind, rawParams: unknown, secrets: Record<string, string>, signal: AbortSignal): Promise<WorkerToRunner> {
  let spec: JobKindSpec | undefined;
  try {
    spec = await load(kind);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { type: 'failed', error: appError('INTERNAL', `This job worker could not load the ${kind} job: ${message}`, 'Reinstall fieldkit; if it repeats, report it.') };
  }
  if (spec === undefined) {
    return { type: 'failed', error: appError('INTERNAL', `This job worker cannot run ${kind} jobs: no domain contributes that kind.`, 'This is a bug in fieldkit; report it.') };
  }
  const params = spec.params.safeParse(rawParams);
  if (!params.success) {
    return {
      type: 'failed',
      error: appError('BAD_REQUEST', `Job parameters for ${kind} are invalid: ${params.error.message}`, 'This is a bug in fieldkit; report it.'),
    };
  }
  try {
    const result = await spec.run(params.data, {
      signal,
      progress: (progress) => void send({ type: 'progress', progress }),
      log: (level, message) => void send({ type: 'log', level, message }),
      secrets,
    });
    return { type: 'done', result: toJsonValue(result) };
  } catch (error) {
    if (error instanceof JobCancelledError) return { type: 'cancelled', reason: error.message, ...(error.result === undefined ? {} : { result: toJsonValue(error.result) }) };
    if (error instanceof JobFailedError) return { type: 'failed', error: error.appError, result: toJsonValue(error.result) };
    if (isFieldkitError(error)) return { type: 'failed', error: error.appError };
    const message = error instanceof Error ? error.message : String(error);
    return {
      type: 'failed',
      error: appError('INTERNAL', `The job failed unexpectedly: ${message}`, 'Try again; if it repeats, report it with the job log.'),
    };
  }
}

/** Serves this process as a job worker: waits for the runner's start, loads that job's kind, runs it, reports and disconnects. */
export function runJobWorker(load: JobKindLoader): void {
  const abort = new AbortController();
  let started = false;
  process.on('message', (raw: unknown) => {
    const message = RunnerToWorkerSchema.safeParse(raw);
    if (!message.success) return;
    if (message.data.type === 'cancel') {
      abort.abort(message.data.reason);
      return;
    }
    if (started) return;
    started = true;
    void runJob(load, message.data.kind, message.data.params, message.data.secrets ?? {}, abort.signal).then(async (final) => {
      await send(final);
      process.disconnect();
    });
  });

  // The runner going away (app killed) must not leave an orphan worker doing raw I/O.
  process.on('disconnect', () => {
    if (!abort.signal.aborted) abort.abort('the app that started this job went away');
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
