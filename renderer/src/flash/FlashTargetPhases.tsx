import { ProgressBar } from 'react-aria-components';
import type { FlashTargetProgress } from '../../../shared/flash.ts';
import { formatBytes } from '../../../shared/format.ts';
import { JobProgressBar } from '../jobs/JobProgressBar.tsx';
import type { JobView } from '../jobs/jobStore.ts';
import { progressFigures } from '../jobs/progressFigures.ts';
import type { PickedDrive } from './flashForm.ts';
import { bytePhaseView, phaseStatus, targetStateLabels, type PhaseStatus } from './flashJobView.ts';

/**
 * The whole flash: the job's own progress (write and read-back of every drive), worded by
 * the same function as the jobs bar under the screen, so the two never disagree.
 */
export function FlashOverall({ job }: { job: JobView | null }) {
  const progress = job?.progress ?? null;
  const figures = progressFigures(progress);
  return (
    <div className="flash-overall" data-testid="flash-overall">
      <span className="flash-overall-label">Overall</span>
      <span className="flash-overall-phase">{progress?.phase ?? 'starting'}</span>
      <JobProgressBar progress={progress} label="Overall progress of the flash (writing and verifying every drive)" />
      <span className="flash-overall-percent num" data-testid="flash-overall-percent">
        {figures.percent ?? ''}
      </span>
      <span className="flash-overall-figures num">
        {[figures.amount, figures.rate, figures.eta === null ? null : `${figures.eta} left`].filter((part) => part !== null).join(' · ')}
      </span>
    </div>
  );
}

/** A drive being flashed: its state, then writing and verifying each with its own bar and rate, then first-boot files and eject. */
export function TargetRunning({ drive, progress, ended }: { drive: PickedDrive; progress: FlashTargetProgress | null; ended: boolean }) {
  const state = progress?.state ?? 'queued';
  const target = progress ?? { device: drive.device, description: '', state, bytesDone: 0, bytesTotal: null, rateBytesPerSec: null, etaSeconds: null };
  return (
    <li className="flash-target is-running" data-testid="flash-target" data-device={drive.device} data-state={ended ? 'ended' : state}>
      <span className="flash-target-name">
        <span className="device-path">{drive.device}</span>
        <span className="muted num"> {formatBytes(drive.sizeBytes)}</span>
      </span>
      <span className="flash-target-state">{ended ? 'ended without a result' : targetStateLabels[state]}</span>
      <div className="flash-phases">
        <BytePhase device={drive.device} target={target} phase="write" label="Writing" ended={ended} />
        <BytePhase device={drive.device} target={target} phase="verify" label="Verifying" ended={ended} />
        <ol className="flash-steps">
          <Step status={phaseStatus(state, 'firstBoot')} label="First-boot settings" />
          <Step status={phaseStatus(state, 'eject')} label="Eject" />
        </ol>
      </div>
    </li>
  );
}

function BytePhase({ device, target, phase, label, ended }: { device: string; target: FlashTargetProgress; phase: 'write' | 'verify'; label: string; ended: boolean }) {
  const view = bytePhaseView(target, phase);
  return (
    <div className={`flash-phase is-${view.status}`} data-testid={`phase-${phase}`} data-status={view.status}>
      <span className="flash-phase-label">{label}</span>
      <ProgressBar
        className="job-progress-bar flash-target-bar"
        aria-label={`${device}: ${label.toLowerCase()}`}
        isIndeterminate={view.percent === null && !ended}
        value={view.percent ?? 0}
      >
        {({ percentage, isIndeterminate }) => (
          <div className="job-progress-track">
            <div className={isIndeterminate ? 'job-progress-fill is-indeterminate' : 'job-progress-fill'} style={isIndeterminate ? undefined : { width: `${percentage ?? 0}%` }} />
          </div>
        )}
      </ProgressBar>
      <span className="flash-target-percent num" data-testid="phase-percent">
        {view.percent === null ? '' : `${view.percent}%`}
      </span>
      <span className="flash-target-figures num">{view.figures}</span>
    </div>
  );
}

const stepMarks: Record<PhaseStatus, string> = { waiting: '○', active: '●', done: '✓' };

function Step({ status, label }: { status: PhaseStatus; label: string }) {
  return (
    <li className={`flash-step is-${status}`} data-status={status}>
      <span aria-hidden="true">{stepMarks[status]} </span>
      {label}
      <span className="visually-hidden">: {status === 'done' ? 'done' : status === 'active' ? 'now' : 'next'}</span>
    </li>
  );
}
