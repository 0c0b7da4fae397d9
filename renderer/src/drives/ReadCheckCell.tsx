import { Button } from 'react-aria-components';
import type { Drive } from '../../../shared/drives.ts';
import { formatWhen } from '../format/time.ts';
import { JobProgressBar } from '../jobs/JobProgressBar.tsx';
import type { JobView } from '../jobs/jobStore.ts';
import { progressFigures } from '../jobs/progressFigures.ts';
import { summarizeReadCheckBriefly } from './readCheckSummary.ts';
import { useCancelJob, useLatestJobForDevice } from '../jobs/useJobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { useNow } from '../ui/useNow.ts';
import { useStartReadCheck } from './useStartReadCheck.ts';

/**
 * The row's read check: a button, the running check's progress, or the last outcome.
 * One button serves as "Read check" and "Cancel", so when a check starts or ends React
 * keeps the same element and keyboard focus stays on it.
 */
export function ReadCheckCell({ drive }: { drive: Drive }) {
  const job = useLatestJobForDevice(drive.device);
  const running = job?.state === 'running' ? job : null;
  const starter = useStartReadCheck(drive.device);
  const canceller = useCancelJob(running);
  const notOffered = running === null ? reasonNotOffered(drive) : null;
  if (notOffered !== null) {
    return (
      <span className="muted" title={notOffered}>
        —
      </span>
    );
  }
  const error = running === null ? starter.error : canceller.error;
  return (
    <div className={running === null ? 'read-check' : 'read-check is-running'}>
      <div className="read-check-progress">
        {running === null ? (
          <Button className="button is-small" onPress={starter.start} isPending={starter.starting} aria-label={`Read check ${drive.device}`}>
            {starter.starting ? 'Starting…' : 'Read check'}
          </Button>
        ) : (
          <Button className="button is-small" onPress={canceller.cancel} isPending={canceller.cancelling} aria-label={`Cancel ${running.title}`}>
            {canceller.cancelling ? 'Cancelling…' : 'Cancel'}
          </Button>
        )}
        {running !== null && <JobProgressBar progress={running.progress} label={`Read check of ${running.title}`} />}
      </div>
      {running !== null && <RunningFigures job={running} />}
      {error !== null && <ErrorNotice error={error} compact announce />}
      {running === null && error === null && job !== null && <LastReadCheck job={job} />}
    </div>
  );
}

function reasonNotOffered(drive: Drive): string | null {
  if (drive.isSystem) return 'Read checks are not offered for the drive the system runs from.';
  if (drive.sizeBytes === null || drive.sizeBytes === 0) return 'The drive reports no size, so there is nothing to read.';
  return null;
}

function RunningFigures({ job }: { job: JobView }) {
  const figures = progressFigures(job.progress);
  const parts = [figures.percent, figures.rate, figures.eta === null ? null : `${figures.eta} left`].filter((p) => p !== null);
  return (
    <p className="read-check-figures num">
      {job.progress?.phase ?? 'starting'}
      {parts.length > 0 && ` · ${parts.join(' · ')}`}
    </p>
  );
}

function LastReadCheck({ job }: { job: JobView }) {
  const now = useNow(60_000);
  const when = job.endedAt === null ? '' : ` ${formatWhen(job.endedAt, now)}`;
  if (job.state === 'failed' && job.error !== null) {
    return (
      <div className="read-check-last is-failed">
        <p className="read-check-when">Last check{when} failed:</p>
        <ErrorNotice error={job.error} compact />
      </div>
    );
  }
  const outcome = job.state === 'cancelled' ? 'cancelled' : (summarizeReadCheckBriefly(job.result) ?? 'finished, but its result is not readable');
  return (
    <p className={`read-check-last is-${job.state}`}>
      Last check{when}: {outcome}
    </p>
  );
}
