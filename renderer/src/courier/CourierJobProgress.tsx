import { Button } from 'react-aria-components';
import { formatBytes, formatDuration } from '../../../shared/format.ts';
import { JobProgressBar } from '../jobs/JobProgressBar.tsx';
import type { JobView } from '../jobs/jobStore.ts';
import { useCancelJob } from '../jobs/useJobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { count } from './courierText.ts';

/** A running pull or forward where it was started: records of total, rate, time left, Cancel. */
export function CourierJobProgress({ job, label, compact = false }: { job: JobView; label: string; compact?: boolean }) {
  const { cancel, cancelling, error } = useCancelJob(job);
  const progress = job.progress;
  const figures = progressWords(job);
  return (
    <div className={compact ? 'courier-progress is-compact' : 'courier-progress'} data-testid="courier-progress" data-job-id={job.id}>
      <div className="courier-progress-line">
        <span className="courier-progress-phase">{cancelling ? 'stopping…' : (progress?.phase ?? 'starting')}</span>
        <JobProgressBar progress={progress} label={`Progress of ${label}`} />
        <Button className="button is-small" onPress={cancel} isPending={cancelling} aria-label={`Cancel ${label}`}>
          {cancelling ? 'Cancelling…' : 'Cancel'}
        </Button>
      </div>
      <p className="courier-progress-figures num">{figures}</p>
      {error !== null && <ErrorNotice error={error} compact announce />}
    </div>
  );
}

/** "1,200 of 1,350 records · 5,400/s · 0:03 left". */
export function progressWords(job: JobView): string {
  const progress = job.progress;
  if (progress === null) return 'starting…';
  const unit = progress.unit === 'items' ? ' records' : ' bytes';
  const total = progress.bytesTotal !== null && progress.bytesTotal > 0 ? progress.bytesTotal : null;
  const parts = [total === null ? `${count(Math.round(progress.bytesDone))}${unit}` : `${count(Math.round(progress.bytesDone))} of ${count(total)}${unit}`];
  if (progress.bytesReceived !== undefined) parts.push(`${formatBytes(progress.bytesReceived)} received`);
  if (progress.rateBytesPerSec !== null) parts.push(`${count(Math.round(progress.rateBytesPerSec))}/s`);
  if (progress.etaSeconds !== null) parts.push(`${formatDuration(progress.etaSeconds)} left`);
  return parts.join(' · ');
}
