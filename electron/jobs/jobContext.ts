/** What a job implementation gets from the worker that runs it. */
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
  constructor(reason: string) {
    super(reason);
    this.name = 'JobCancelledError';
  }
}

/** Throws JobCancelledError when the job has been cancelled. */
export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    throw new JobCancelledError(typeof reason === 'string' ? reason : 'cancelled');
  }
}
