import { Button } from 'react-aria-components';
import { JobProgressBar } from '../jobs/JobProgressBar.tsx';
import type { JobView } from '../jobs/jobStore.ts';
import { progressFigures } from '../jobs/progressFigures.ts';
import { useCancelJob } from '../jobs/useJobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';

/** The backup jobs running now, under the header: what, how far, how fast, time left, Cancel. */
export function BackupJobs({ jobs }: { jobs: readonly JobView[] }) {
  if (jobs.length === 0) return null;
  return (
    <section className="backup-jobs" aria-label="Backup jobs in progress">
      {jobs.map((job) => (
        <BackupJobProgress key={job.id} job={job} />
      ))}
    </section>
  );
}

function BackupJobProgress({ job }: { job: JobView }) {
  const { cancel, cancelling, error } = useCancelJob(job);
  const figures = progressFigures(job.progress);
  const words = [figures.percent, figures.amount, figures.rate, figures.eta === null ? null : `${figures.eta} left`].filter((w) => w !== null).join(' · ');
  return (
    <div className="backup-job" data-testid="backup-job" data-job-id={job.id} data-kind={job.kind}>
      <span className="backup-job-title">{job.title}</span>
      <span className="backup-job-phase">{cancelling ? 'stopping…' : (job.progress?.phase ?? 'starting')}</span>
      <JobProgressBar progress={job.progress} label={`Progress of ${job.title}`} />
      <span className="backup-job-figures num">{words}</span>
      <Button className="button is-small" onPress={cancel} isPending={cancelling} aria-label={`Cancel ${job.title}`}>
        {cancelling ? 'Cancelling…' : 'Cancel'}
      </Button>
      {error !== null && <ErrorNotice error={error} compact announce />}
    </div>
  );
}
