import { useCallback, useContext, useMemo, useState, useSyncExternalStore } from 'react';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import { deviceOfJob } from './jobDevice.ts';
import type { JobStore, JobView } from './jobStore.ts';
import { summarizeJob, type SummarizedJob } from './jobSummary.ts';
import { JobStoreContext, JobSummariesContext } from './JobsProvider.tsx';

export function useJobStore(): JobStore {
  const store = useContext(JobStoreContext);
  if (store === null) throw new Error('useJobStore must be used inside <JobsProvider>.');
  return store;
}

/** The line for what a finished job did, worded by the domain that owns its kind. */
export function useJobSummary(job: SummarizedJob): string {
  const summaries = useContext(JobSummariesContext);
  if (summaries === null) throw new Error('useJobSummary must be used inside <JobsProvider>.');
  return summarizeJob(job, summaries);
}

/** All jobs this window knows, running first. */
export function useJobs(): readonly JobView[] {
  const store = useJobStore();
  return useSyncExternalStore(store.subscribe, store.snapshot);
}

/** Why the job history could not be loaded, or null. */
export function useJobHistoryError(): AppError | null {
  const store = useJobStore();
  return useSyncExternalStore(store.subscribe, store.historyError);
}

/** The running job on `device`, else its most recent finished one. */
export function useLatestJobForDevice(device: string): JobView | null {
  const jobs = useJobs();
  return useMemo(() => jobs.find((job) => deviceOfJob(job) === device) ?? null, [jobs, device]);
}

export type CancelJob = {
  cancel: () => void;
  /** True from the click until the job stops, wherever the job is shown. */
  cancelling: boolean;
  error: AppError | null;
};

/** Asks the service to cancel; the job's own cancelled event ends it in the store. */
export function useCancelJob(job: JobView | null): CancelJob {
  const bridge = useBridge();
  const store = useJobStore();
  const [error, setError] = useState<AppError | null>(null);
  const jobId = job?.id ?? null;
  const cancel = useCallback(() => {
    if (jobId === null) return;
    store.setCancelRequested(jobId, true);
    setError(null);
    void bridge.invoke('jobs.cancel', { jobId }).then((result) => {
      if (result.ok) {
        store.mergeRecords([result.value.job]);
      } else {
        store.setCancelRequested(jobId, false);
        setError(result.error);
      }
    });
  }, [bridge, jobId, store]);
  return { cancel, cancelling: job !== null && job.cancelRequested && job.state === 'running', error };
}
