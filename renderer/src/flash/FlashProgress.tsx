import { Button } from 'react-aria-components';
import type { FlashTargetResult } from '../../../shared/flash.ts';
import { formatBytes } from '../../../shared/format.ts';
import type { JobView } from '../jobs/jobStore.ts';
import { useCancelJob } from '../jobs/useJobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import type { PickedDrive } from './flashForm.ts';
import { flashResultOf, targetOutcome, targetProgressOf } from './flashJobView.ts';
import { FlashOverall, TargetRunning } from './FlashTargetPhases.tsx';

/**
 * A flash under way or ended: one line per drive with its phase, bar, rate and time left,
 * then its result — verified, or "incomplete — do not use" with what went wrong and what to do.
 */
export function FlashProgress({ job, picked, onAgain, onNewImage }: { job: JobView | null; picked: readonly PickedDrive[]; onAgain: () => void; onNewImage: () => void }) {
  const { cancel, cancelling, error: cancelError } = useCancelJob(job);
  const result = job === null ? null : flashResultOf(job);
  const live = job === null ? [] : targetProgressOf(job);
  const running = job === null || job.state === 'running';
  return (
    <div className="flash-progress" data-testid="flash-progress" data-state={job?.state ?? 'starting'}>
      {running && <FlashOverall job={job} />}
      <ul className="flash-targets">
        {picked.map((drive) => {
          const outcome = result?.targets.find((t) => t.device === drive.device) ?? null;
          const progress = live.find((t) => t.device === drive.device) ?? null;
          return outcome !== null ? (
            <TargetResult key={drive.device} drive={drive} result={outcome} />
          ) : (
            <TargetRunning key={drive.device} drive={drive} progress={progress} ended={!running} />
          );
        })}
      </ul>
      {job !== null && job.state === 'failed' && job.error !== null && <ErrorNotice error={job.error} announce />}
      {job !== null && job.state === 'cancelled' && (
        <p className="flash-cancelled" role="status">
          The flash was cancelled{job.cancelReason === null ? '' : ` (${job.cancelReason})`}. A drive that was being written is marked incomplete — do not use it until it is flashed again.
        </p>
      )}
      {result !== null && result.warnings.length > 0 && (
        <ul className="image-warnings">
          {result.warnings.map((warning) => (
            <li key={warning} className="drive-warning">
              <span aria-hidden="true">⚠ </span>
              {warning}
            </li>
          ))}
        </ul>
      )}
      {cancelError !== null && <ErrorNotice error={cancelError} compact announce />}
      <div className="flash-actions">
        {running ? (
          <Button className="button" onPress={cancel} isPending={cancelling} isDisabled={job === null} aria-label="Cancel the flash">
            {cancelling ? 'Cancelling…' : 'Cancel flash'}
          </Button>
        ) : (
          <>
            <Button className="button is-primary" onPress={onAgain}>
              Flash more drives with this image
            </Button>
            <Button className="button" onPress={onNewImage}>
              Choose another image
            </Button>
          </>
        )}
      </div>
    </div>
  );
}

function TargetResult({ drive, result }: { drive: PickedDrive; result: FlashTargetResult }) {
  const ok = result.status === 'success';
  return (
    <li className={`flash-target is-${result.status}`} data-testid="flash-target" data-device={drive.device} data-state={result.status}>
      <span className="flash-target-name">
        <span className="device-path">{drive.device}</span>
        <span className="muted num"> {formatBytes(drive.sizeBytes)}</span>
      </span>
      <span className={ok ? 'flash-verdict is-ok' : 'flash-verdict is-bad'} data-testid="flash-verdict">
        <span aria-hidden="true">{ok ? '✓ ' : '✕ '}</span>
        {ok ? 'Flashed and verified' : result.status === 'refused' ? 'Refused — nothing written' : (result.label ?? 'Incomplete — do not use')}
      </span>
      <div className="flash-target-outcome">
        {ok || result.error === null ? <p className="flash-outcome-text">{targetOutcome(result)}</p> : <ErrorNotice error={result.error} compact />}
      </div>
    </li>
  );
}
