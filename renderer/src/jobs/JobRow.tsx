import { Button } from 'react-aria-components';
import type { JobState } from '../../../shared/jobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { formatWhen } from '../format/time.ts';
import { JobProgressBar } from './JobProgressBar.tsx';
import type { JobView } from './jobStore.ts';
import { progressFigures } from './progressFigures.ts';
import { useCancelJob, useJobSummary } from './useJobs.ts';

const stateLabels: Record<JobState, string> = {
  running: 'Running',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** One job in the panel: live figures while it runs, its outcome after. */
export function JobRow({ job, now, highlighted = false }: { job: JobView; now: number; highlighted?: boolean }) {
  return (
    <li className={`job-row is-${job.state}${highlighted ? ' is-highlighted' : ''}`} data-testid="job-row" data-job-id={job.id} data-state={job.state}>
      <span className="job-state">{stateLabels[job.state]}</span>
      {job.state === 'running' ? <RunningJob job={job} /> : <FinishedJob job={job} now={now} />}
    </li>
  );
}

function RunningJob({ job }: { job: JobView }) {
  const figures = progressFigures(job.progress);
  const { cancel, cancelling, error } = useCancelJob(job);
  return (
    <>
      <span className="job-name">
        <span className="job-title" title={job.title}>
          {job.title}
        </span>
        <span className="job-phase num">
          {job.progress?.phase ?? 'starting'} · {figures.amount}
        </span>
      </span>
      <span className="job-bar">
        <JobProgressBar progress={job.progress} label={`Progress of ${job.title}`} />
      </span>
      <span className="job-percent num">{figures.percent ?? ''}</span>
      <span className="job-rate num" title="Rate over the last few seconds">
        {figures.rate ?? '– MB/s'}
      </span>
      <span className="job-eta num" title="Estimated time left (mm:ss)">
        {figures.eta === null ? '' : `${figures.eta} left`}
      </span>
      <span className="job-action">
        <Button className="button is-small" onPress={cancel} isPending={cancelling} aria-label={`Cancel ${job.title}`}>
          {cancelling ? 'Cancelling…' : 'Cancel'}
        </Button>
      </span>
      {error !== null && (
        <div className="job-detail">
          <ErrorNotice error={error} compact announce />
        </div>
      )}
    </>
  );
}

function FinishedJob({ job, now }: { job: JobView; now: number }) {
  return (
    <>
      <span className="job-name">
        <span className="job-title" title={job.title}>
          {job.title}
        </span>
        {job.endedAt !== null && <span className="job-when num">ended {formatWhen(job.endedAt, now)}</span>}
      </span>
      <div className="job-outcome">
        <FinishedOutcome job={job} />
      </div>
    </>
  );
}

function FinishedOutcome({ job }: { job: JobView }) {
  if (job.state === 'failed' && job.error !== null) return <ErrorNotice error={job.error} compact />;
  if (job.state === 'cancelled') {
    const reason = job.cancelReason ?? job.error?.message ?? null;
    return <span className="job-note">{reason === null ? 'Cancelled; nothing was left half-done.' : `Cancelled: ${reason}`}</span>;
  }
  return <DoneNote job={job} />;
}

function DoneNote({ job }: { job: JobView }) {
  return <span className="job-note">{useJobSummary(job)}</span>;
}
