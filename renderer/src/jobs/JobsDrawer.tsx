import { useEffect } from 'react';
import { useConnectionSnapshot } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { useNow } from '../ui/useNow.ts';
import { JobRow } from './JobRow.tsx';
import type { JobView } from './jobStore.ts';
import { useJobHistoryError } from './useJobs.ts';
import './jobs-panel.css';

/** The full list inside the jobs drawer: running jobs with Cancel, then recent history; `focusJob` is scrolled into view. */
export function JobsDrawerContent({ jobs, focusJob }: { jobs: readonly JobView[]; focusJob: string | null }) {
  const historyError = useJobHistoryError();
  const { state } = useConnectionSnapshot();
  const now = useNow(30_000);
  useEffect(() => {
    if (focusJob === null) return;
    document.querySelector(`.jobs-drawer [data-job-id="${CSS.escape(focusJob)}"]`)?.scrollIntoView({ block: 'nearest' });
  }, [focusJob]);
  return (
    <>
      {historyError !== null && !(historyError.code === 'UNAVAILABLE' && state.kind === 'retrying') && (
        <div className="jobs-history-error">
          <ErrorNotice error={historyError} compact />
        </div>
      )}
      {jobs.length === 0 ? (
        historyError === null && <p className="jobs-empty">No jobs yet. A read check started from Drives shows here with its progress, rate and time left.</p>
      ) : (
        <ul className="jobs-list">
          {jobs.map((job) => (
            <JobRow key={job.id} job={job} now={now} highlighted={job.id === focusJob} />
          ))}
        </ul>
      )}
    </>
  );
}
