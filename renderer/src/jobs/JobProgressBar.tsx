import { ProgressBar } from 'react-aria-components';
import type { JobProgress } from '../../../shared/jobs.ts';
import './job-progress-bar.css';

/** The bar alone; indeterminate until the service knows the total. */
export function JobProgressBar({ progress, label }: { progress: JobProgress | null; label: string }) {
  const total = progress?.bytesTotal ?? null;
  const known = total !== null && total > 0;
  return (
    <ProgressBar
      className="job-progress-bar"
      aria-label={label}
      isIndeterminate={!known}
      minValue={0}
      maxValue={known ? total : 1}
      value={known ? Math.min(progress?.bytesDone ?? 0, total) : 0}
    >
      {({ percentage, isIndeterminate }) => (
        <div className="job-progress-track">
          <div
            className={isIndeterminate ? 'job-progress-fill is-indeterminate' : 'job-progress-fill'}
            style={isIndeterminate ? undefined : { width: `${percentage ?? 0}%` }}
          />
        </div>
      )}
    </ProgressBar>
  );
}
