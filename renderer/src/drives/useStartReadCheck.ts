import { useCallback, useState } from 'react';
import type { AppError } from '../../../shared/errors.ts';
import { useBridge } from '../api/hooks.ts';
import { useJobStore } from '../jobs/useJobs.ts';

export type StartReadCheck = { start: () => void; starting: boolean; error: AppError | null };

/** Starts a whole-drive read check; the job then shows on the row and in the jobs panel. */
export function useStartReadCheck(device: string): StartReadCheck {
  const bridge = useBridge();
  const store = useJobStore();
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const start = useCallback(() => {
    setStarting(true);
    setError(null);
    void (async () => {
      const started = await bridge.invoke('drives.readCheck', { device });
      if (!started.ok) {
        setError(started.error);
        setStarting(false);
        return;
      }
      // Events carry no params; the record ties the job to this drive's row.
      const record = await bridge.invoke('jobs.get', { jobId: started.value.jobId });
      if (record.ok) store.mergeRecords([record.value.job]);
      setStarting(false);
    })();
  }, [bridge, device, store]);
  return { start, starting, error };
}
