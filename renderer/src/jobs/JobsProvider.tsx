import { createContext, useEffect, useState, type ReactNode } from 'react';
import { useBridge, useConnectionOpens, useEvent } from '../api/hooks.ts';
import type { AllJobSummaries } from './jobSummary.ts';
import { createJobStore, type JobStore } from './jobStore.ts';

export const JobStoreContext = createContext<JobStore | null>(null);
export const JobSummariesContext = createContext<AllJobSummaries | null>(null);

/** How much history the panel shows; older jobs stay in the service's history. */
const historyLimit = 30;

/**
 * Keeps the job store current: history on start and after every reconnect (events sent
 * while the link was down are gone), live events in between. `summaries` (from the shell,
 * one per job kind, each domain's own) word what a finished job did.
 */
export function JobsProvider({ summaries, children }: { summaries: AllJobSummaries; children: ReactNode }) {
  const bridge = useBridge();
  const opens = useConnectionOpens();
  const [store] = useState(createJobStore);

  useEvent('job.event', (event) => {
    if (store.applyEvent(event)) return;
    // A job this window has not seen (started elsewhere, or its start event overtook us).
    void bridge.invoke('jobs.get', { jobId: event.jobId }).then((result) => {
      if (result.ok) store.mergeRecords([result.value.job]);
    });
  });

  useEffect(() => {
    if (opens === 0) return;
    let current = true;
    const stillCurrent = () => current;
    void bridge.invoke('jobs.list', { limit: historyLimit }).then(async (listed) => {
      if (!stillCurrent()) return;
      if (!listed.ok) {
        store.setHistoryError(listed.error);
        return;
      }
      store.setHistoryError(null);
      store.mergeRecords(listed.value.jobs);
      // Jobs this window saw running but the list no longer covers: ask for each.
      const listedIds = new Set(listed.value.jobs.map((job) => job.id));
      const stale = store.snapshot().filter((job) => job.state === 'running' && !listedIds.has(job.id));
      const fetched = await Promise.all(stale.map((job) => bridge.invoke('jobs.get', { jobId: job.id })));
      if (stillCurrent()) store.mergeRecords(fetched.flatMap((result) => (result.ok ? [result.value.job] : [])));
    });
    return () => {
      current = false;
    };
  }, [bridge, opens, store]);

  return (
    <JobStoreContext value={store}>
      <JobSummariesContext value={summaries}>{children}</JobSummariesContext>
    </JobStoreContext>
  );
}
