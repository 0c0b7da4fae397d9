/**
 * The window's picture of all jobs. History comes from `jobs.list` / `jobs.get`, live
 * changes from `job.event`; either may arrive first (an event can overtake the answer
 * that started its job), so merging never lets an older view replace a newer one.
 */
import type { AppError } from '../../../shared/errors.ts';
import { isFinalJobEvent, type JobEvent, type JobRecord } from '../../../shared/jobs.ts';

export type JobView = JobRecord & {
  /** Why it was cancelled, when this window saw the cancel event. */
  cancelReason: string | null;
  /** Cancel was asked for here and the job has not stopped yet (stopping cleanly takes a moment). */
  cancelRequested: boolean;
};

export type JobStore = {
  /** Running jobs first (newest first), then finished ones, newest first. Same array until a change. */
  snapshot: () => readonly JobView[];
  subscribe: (listener: () => void) => () => void;
  /** Applies a live event; false when the job is unknown here, so the caller can fetch it. */
  applyEvent: (event: JobEvent) => boolean;
  mergeRecords: (records: readonly JobRecord[]) => void;
  get: (jobId: string) => JobView | undefined;
  setCancelRequested: (jobId: string, requested: boolean) => void;
  /** Why the job history could not be loaded, or null. */
  historyError: () => AppError | null;
  setHistoryError: (error: AppError | null) => void;
};

const keptLogLines = 20;
const keptFinishedJobs = 50;

export function createJobStore(): JobStore {
  let jobs = new Map<string, JobView>();
  let sorted: readonly JobView[] = [];
  let historyError: AppError | null = null;
  const listeners = new Set<() => void>();

  function notify(): void {
    for (const listener of [...listeners]) listener();
  }

  function commit(next: Map<string, JobView>): void {
    jobs = next;
    sorted = sortForDisplay([...next.values()]);
    notify();
  }

  function applyEvent(event: JobEvent): boolean {
    const existing = jobs.get(event.jobId);
    if (existing === undefined && event.type !== 'started') return false;
    const job: JobView = existing ?? {
      id: event.jobId,
      kind: event.type === 'started' ? event.kind : 'drives.readCheck',
      title: event.type === 'started' ? event.title : event.jobId,
      params: null,
      state: 'running',
      progress: null,
      createdAt: event.at,
      endedAt: null,
      result: null,
      error: null,
      log: [],
      cancelReason: null,
      cancelRequested: false,
    };
    // After the final event nothing may change the job; late progress is dropped.
    if (job.state !== 'running' && !isFinalJobEvent(event)) return true;
    const next = new Map(jobs);
    next.set(job.id, withEvent(job, event));
    commit(next);
    return existing !== undefined;
  }

  function mergeRecords(records: readonly JobRecord[]): void {
    if (records.length === 0) return;
    const next = new Map(jobs);
    for (const record of records) next.set(record.id, mergeRecord(next.get(record.id), record));
    commit(pruneFinished(next));
  }

  function setCancelRequested(jobId: string, requested: boolean): void {
    const job = jobs.get(jobId);
    if (job === undefined || job.cancelRequested === requested) return;
    const next = new Map(jobs);
    next.set(jobId, { ...job, cancelRequested: requested });
    commit(next);
  }

  return {
    snapshot: () => sorted,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    applyEvent,
    mergeRecords,
    get: (jobId) => jobs.get(jobId),
    setCancelRequested,
    historyError: () => historyError,
    setHistoryError(error) {
      if (error === historyError) return;
      historyError = error;
      notify();
    },
  };
}

function withEvent(job: JobView, event: JobEvent): JobView {
  switch (event.type) {
    case 'started':
      return { ...job, kind: event.kind, title: event.title };
    case 'progress':
      return { ...job, progress: event.progress };
    case 'log':
      return { ...job, log: [...job.log, { at: event.at, level: event.level, message: event.message }].slice(-keptLogLines) };
    case 'done':
      return { ...job, state: 'done', endedAt: event.at, result: event.result };
    // A failed or cancelled flash still says what became of each drive.
    case 'failed':
      return { ...job, state: 'failed', endedAt: event.at, error: event.error, result: event.result ?? job.result };
    case 'cancelled':
      return { ...job, state: 'cancelled', endedAt: event.at, cancelReason: event.reason, result: event.result ?? job.result };
  }
}

/** A record from the history, against what this window may already know. */
function mergeRecord(known: JobView | undefined, record: JobRecord): JobView {
  if (known === undefined) return { ...record, cancelReason: null, cancelRequested: false };
  // A list fetched before the final event arrived still says "running": keep the ending.
  if (known.state !== 'running' && record.state === 'running') return known;
  const progress =
    record.state === 'running' && (known.progress?.bytesDone ?? -1) > (record.progress?.bytesDone ?? -1)
      ? known.progress
      : record.progress;
  return { ...record, progress, cancelReason: known.cancelReason, cancelRequested: known.cancelRequested };
}

function pruneFinished(all: Map<string, JobView>): Map<string, JobView> {
  const finished = [...all.values()].filter((job) => job.state !== 'running');
  if (finished.length <= keptFinishedJobs) return all;
  const dropped = sortForDisplay(finished).slice(keptFinishedJobs);
  const next = new Map(all);
  for (const job of dropped) next.delete(job.id);
  return next;
}

function sortForDisplay(all: JobView[]): JobView[] {
  return all.sort((a, b) => {
    const aRunning = a.state === 'running' ? 0 : 1;
    const bRunning = b.state === 'running' ? 0 : 1;
    if (aRunning !== bRunning) return aRunning - bRunning;
    return (b.endedAt ?? b.createdAt) - (a.endedAt ?? a.createdAt);
  });
}
