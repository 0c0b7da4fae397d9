import { useCallback, useMemo, useState } from 'react';
import { DiscoveryResultSchema, type RequestOf } from '../../../shared/api.ts';
import type { Discovered, DiscoverySourceNote } from '../../../shared/devices.ts';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import type { JobView } from '../jobs/jobStore.ts';
import { useJobs, useJobStore } from '../jobs/useJobs.ts';

export type Discovery = {
  /** The running discovery, else the most recent one (also from earlier runs of the app). */
  job: JobView | null;
  /** What the finished job found, or null while running, failed or unreadable. */
  found: Discovered[] | null;
  probed: number | null;
  /** Sources that were unavailable or searched another way, and why. */
  sources: DiscoverySourceNote[];
  start: (request: RequestOf<'devices.discover'>) => void;
  starting: boolean;
  startError: AppError | null;
};

/**
 * Discovery is a job like any other: it shows in the jobs panel, can be cancelled there or
 * here, and its result stays in the job history, so leaving the screen loses nothing.
 */
export function useDiscovery(): Discovery {
  const bridge = useBridge();
  const store = useJobStore();
  const jobs = useJobs();
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<AppError | null>(null);
  const job = useMemo(() => jobs.find((j) => j.kind === 'devices.discover') ?? null, [jobs]);
  const result = useMemo(() => {
    if (job?.state !== 'done') return null;
    const parsed = DiscoveryResultSchema.safeParse(job.result);
    return parsed.success ? parsed.data : null;
  }, [job]);

  const start = useCallback(
    (request: RequestOf<'devices.discover'>) => {
      setStarting(true);
      setStartError(null);
      void (async () => {
        const started = await bridge.invoke('devices.discover', request);
        if (!started.ok) {
          setStartError(started.error);
          setStarting(false);
          return;
        }
        // The record carries the params; events alone would not say what was searched.
        const record = await bridge.invoke('jobs.get', { jobId: started.value.jobId });
        if (record.ok) store.mergeRecords([record.value.job]);
        setStarting(false);
      })();
    },
    [bridge, store],
  );

  return { job, found: result?.found ?? null, probed: result?.probed ?? null, sources: result?.sources ?? [], start, starting, startError };
}
