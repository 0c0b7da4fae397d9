/** What a job implementation gets from the worker that runs it. */
import type { AppError } from '../../../shared/errors.ts';
import type { WorkerProgress } from './jobProtocol.ts';

export type JobContext = {
  /** Aborted when the technician cancels; long loops check it between steps. */
  signal: AbortSignal;
  progress(progress: WorkerProgress): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
  /** Secrets handed to this job by the app (never stored with the job). */
  secrets: Readonly<Record<string, string>>;
};

/** Thrown by a job that stopped because it was cancelled, after it cleaned up. */
export class JobCancelledError extends Error {
  /** What the job still achieved before it stopped (kept in the job's history). */
  readonly result: unknown;
  constructor(reason: string, result?: unknown) {
    super(reason);
    this.name = 'JobCancelledError';
    this.result = result;
  }
}

/**
 * Thrown by a job that failed but has a result worth keeping: a flash where one drive of
 * two failed still reports both drives.
 */
export class JobFailedError extends Error {
  readonly appError: AppError;
  readonly result: unknown;
  constructor(error: AppError, result: unknown) {
    super(error.message);
    this.name = 'JobFailedError';
    this.appError = error;
    this.result = result;
  }
}

/** Throws JobCancelledError when the job has been cancelled. */
export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    throw new JobCancelledError(typeof reason === 'string' ? reason : 'cancelled');
  }
}
