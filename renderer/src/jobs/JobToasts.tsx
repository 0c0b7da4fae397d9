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
 * Brief notices for jobs that end, over the bottom right corner of the window: what ended,
 * how, and "Show" to open the job in the full list. Each goes by itself, or with ✕.
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
  if (shown.length === 0) return null;
  return (
    <ol className="job-toasts" aria-label="Jobs that ended">
      {shown.map((job) => (
        <JobToast key={job.id} job={job} onShow={() => { dismiss(job.id); onShow(job.id); }} onDismiss={() => { dismiss(job.id); }} />
      ))}
    </ol>
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
    <li className={`job-toast is-${job.state}`} role={job.state === 'failed' ? 'alert' : 'status'} data-testid="job-toast" data-job-id={job.id} data-state={job.state}>
      <p className="job-toast-text">
        <span className="job-toast-title" title={job.title}>
          <strong>{headings[job.state]}:</strong> {job.title}
        </span>
        <span className="job-toast-line">{line}</span>
      </p>
      <Button className="button is-small" onPress={onShow} aria-label={`Show ${job.title} in the jobs list`}>
        Show
      </Button>
      <Button className="button is-quiet is-small" onPress={onDismiss} aria-label="Dismiss">
        ✕
      </Button>
    </li>
  );
}
