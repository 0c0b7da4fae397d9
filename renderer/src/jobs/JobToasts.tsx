import { useEffect, useEffectEvent, useState } from 'react';
import { Button } from 'react-aria-components';
import { isFinalJobEvent } from '../../../shared/jobs.ts';
import { useEvent } from '../api/hooks.ts';
import type { JobView } from './jobStore.ts';
import { useJobs, useJobSummary } from './useJobs.ts';

/** How long a notice stays: long enough to read, short enough not to pile up; a failure longer. */
const shownMs = { done: 8000, cancelled: 8000, failed: 20_000 } as const;
/** More notices than this and the oldest go: the drawer keeps every job anyway. */
const maxToasts = 3;

/**
 * Brief notices for jobs that end, inside the jobs bar (so they never cover the screen):
 * the newest one — what ended, how, and "Show" to open the job in the full list — with how
 * many more wait behind it. Each goes by itself after a while, or with ✕.
 */
export function JobToasts({ onShow }: { onShow: (jobId: string) => void }) {
  const [ended, setEnded] = useState<readonly string[]>([]);
  const jobs = useJobs();
  useEvent('job.event', (event) => {
    if (isFinalJobEvent(event)) setEnded((ids) => [...ids.filter((id) => id !== event.jobId), event.jobId].slice(-maxToasts));
  });
  const dismiss = (jobId: string): void => {
    setEnded((ids) => ids.filter((id) => id !== jobId));
  };
  // The store applies the final event too: a notice shows once its job reads as ended there.
  const shown = ended.flatMap((id) => jobs.filter((job) => job.id === id && job.state !== 'running'));
  const newest = shown.at(-1);
  if (newest === undefined) return null;
  return (
    <div className="job-toasts">
      <JobToast key={newest.id} job={newest} onShow={() => { dismiss(newest.id); onShow(newest.id); }} onDismiss={() => { dismiss(newest.id); }} />
      {shown.length > 1 && <span className="job-toasts-more num">+{shown.length - 1}</span>}
    </div>
  );
}

const headings = { done: 'Done', failed: 'Failed', cancelled: 'Cancelled', running: 'Running' } as const;

function JobToast({ job, onShow, onDismiss }: { job: JobView; onShow: () => void; onDismiss: () => void }) {
  const summary = useJobSummary(job);
  const line = job.state === 'failed' ? (job.error?.message ?? 'It stopped with an error.') : job.state === 'cancelled' ? (job.cancelReason ?? 'Cancelled; nothing was left half-done.') : summary;
  // Timed from when the notice appeared: other jobs' progress re-rendering it must not restart the clock.
  const expire = useEffectEvent(onDismiss);
  useEffect(() => {
    if (job.state === 'running') return;
    const timer = setTimeout(() => { expire(); }, shownMs[job.state]);
    return () => { clearTimeout(timer); };
  }, [job.state]);
  return (
    <div className={`job-toast is-${job.state}`} role={job.state === 'failed' ? 'alert' : 'status'} data-testid="job-toast" data-job-id={job.id} data-state={job.state}>
      <p className="job-toast-text" title={`${job.title}: ${line}`}>
        <strong>{headings[job.state]}:</strong>{' '}
        {/* A finished job's summary names what it did; a stopped one needs its name before the reason. */}
        {job.state !== 'done' && (
          <>
            <span className="job-toast-title">{job.title}</span> —{' '}
          </>
        )}
        <span className="job-toast-line">{line}</span>
      </p>
      <Button className="button is-small" onPress={onShow} aria-label={`Show ${job.title} in the jobs list`}>
        Show
      </Button>
      <Button className="button is-quiet is-small" onPress={onDismiss} aria-label="Dismiss">
        ✕
      </Button>
    </div>
  );
}
