import { Fragment, useState } from 'react';
import { Button } from 'react-aria-components';
import type { DeviceDeployOutcome, Rollout } from '../../../shared/deploy.ts';
import type { AppError } from '../../../shared/errors.ts';
import { formatBytes, formatDuration } from '../../../shared/format.ts';
import { formatBatchSizes } from '../../../shared/rolloutBatches.ts';
import { useBridge } from '../api/hooks.ts';
import { JobProgressBar } from '../jobs/JobProgressBar.tsx';
import { useCancelJob, useJobStore, type CancelJob } from '../jobs/useJobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { TranscriptView } from './TranscriptView.tsx';
import { canResume, countStatuses, groupByBatch, statusLabels, statusTone } from './rolloutView.ts';

const stateLabels: Record<Rollout['state'], string> = { running: 'running', stopped: 'stopped', completed: 'completed', cancelled: 'cancelled' };

/** One rollout, live: per-device status grouped by batch, rollback reasons, transcripts; cancel or resume. */
export function RolloutDetail({ rollout, onResumed }: { rollout: Rollout; onResumed: () => void }) {
  const bridge = useBridge();
  const store = useJobStore();
  const job = rollout.jobId === null ? null : (store.get(rollout.jobId) ?? null);
  const cancel = useCancelJob(rollout.state === 'running' ? job : null);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [resuming, setResuming] = useState(false);
  const [resumeError, setResumeError] = useState<AppError | null>(null);
  const counts = countStatuses(rollout.devices);

  function toggle(deviceId: string): void {
    setOpen((all) => {
      const next = new Set(all);
      if (next.has(deviceId)) next.delete(deviceId);
      else next.add(deviceId);
      return next;
    });
  }

  function resume(): void {
    setResuming(true);
    setResumeError(null);
    void bridge.invoke('deploy.resume', { rolloutId: rollout.id }).then((result) => {
      setResuming(false);
      if (result.ok) onResumed();
      else setResumeError(result.error);
    });
  }

  return (
    <section className="rollout-detail" aria-labelledby={`rollout-${rollout.id}`} data-testid="rollout-detail" data-state={rollout.state}>
      <RolloutHead rollout={rollout} counts={counts} canStop={rollout.state === 'running' && job !== null} cancel={cancel} resuming={resuming} onResume={resume} />
      {rollout.stopReason !== null && (
        <p className="rollout-stop" role="status" data-testid="stop-reason">
          <span aria-hidden="true">■ </span>
          {rollout.stopReason}
        </p>
      )}
      {resumeError !== null && <ErrorNotice error={resumeError} announce />}
      {cancel.error !== null && <ErrorNotice error={cancel.error} announce />}
      {rollout.state === 'running' && <JobProgressBar progress={job?.progress ?? { phase: 'starting', bytesDone: counts.done, bytesTotal: counts.total, unit: 'items', rateBytesPerSec: null, etaSeconds: null }} label={`Rollout of ${rollout.version}`} />}
      <table className="data-table rollout-table">
        <thead>
          <tr>
            <th className="col-device">Device</th>
            <th className="col-status">Status</th>
            <th className="col-version">Version</th>
            <th className="col-sent">Sent</th>
            <th className="col-took">Took</th>
            <th>Why</th>
            <th className="col-actions">
              <span className="visually-hidden">Transcript</span>
            </th>
          </tr>
        </thead>
        {groupByBatch(rollout).map((group) => (
          <tbody key={group.index} data-testid="rollout-batch">
            <tr className="batch-row">
              <th colSpan={7} scope="rowgroup">
                {group.label} · {group.devices.length} device{group.devices.length === 1 ? '' : 's'}
              </th>
            </tr>
            {group.devices.map((device) => (
              <Fragment key={device.deviceId}>
                <DeviceRow device={device} transcriptOpen={open.has(device.deviceId)} onToggle={() => { toggle(device.deviceId); }} />
                {open.has(device.deviceId) && (
                  <tr className="transcript-row">
                    <td colSpan={7}>
                      <TranscriptView device={device} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        ))}
      </table>
    </section>
  );
}

function DeviceRow({ device, transcriptOpen, onToggle }: { device: DeviceDeployOutcome; transcriptOpen: boolean; onToggle: () => void }) {
  const tone = statusTone(device.status);
  const took = device.startedAt !== null && device.endedAt !== null ? formatDuration((device.endedAt - device.startedAt) / 1000) : '';
  return (
    <tr className={`data-row has-state-edge rollout-device is-${tone}`} data-testid="rollout-device" data-device={device.deviceName} data-status={device.status}>
      <td className="rollout-device-name">{device.deviceName}</td>
      <td>
        <span className={`deploy-status is-${tone}`}>{statusLabels[device.status]}</span>
      </td>
      <td className="num">
        {device.fromVersion ?? '—'} → {device.toVersion}
      </td>
      <td className="num">{device.status === 'pending' || device.status === 'skipped' ? '' : formatBytes(device.bytesSent)}</td>
      <td className="num">{took}</td>
      <td>
        {device.error !== null && (
          <div className={device.status === 'rolled-back' ? 'rollback-reason' : 'device-error'} data-testid="device-why">
            {device.gateFailed !== null && <p className="gate-failed">Health gate failed: {device.gateFailed}</p>}
            <ErrorNotice error={device.error} compact />
            {device.unitLog.length > 0 && (
              <details className="unit-log">
                <summary>Last lines of the service log ({device.unitLog.length})</summary>
                <pre>{device.unitLog.join('\n')}</pre>
              </details>
            )}
          </div>
        )}
      </td>
      <td>
        {device.startedAt !== null && (
          <Button className="button is-small is-quiet" onPress={onToggle} aria-expanded={transcriptOpen} aria-label={`${transcriptOpen ? 'Hide the transcript' : 'Transcript'} of ${device.deviceName}`}>
            {transcriptOpen ? 'Hide transcript' : 'Transcript'}
          </Button>
        )}
      </td>
    </tr>
  );
}

type RolloutHeadProps = {
  rollout: Rollout;
  counts: ReturnType<typeof countStatuses>;
  canStop: boolean;
  cancel: CancelJob;
  resuming: boolean;
  onResume: () => void;
};

/** What was rolled out, its state and counts, Stop while it runs, Resume when it stopped. */
function RolloutHead({ rollout, counts, canStop, cancel, resuming, onResume }: RolloutHeadProps) {
  return (
    <header className="rollout-head">
      <h2 id={`rollout-${rollout.id}`} className="panel-heading">
        {rollout.bundleKind === 'agent' ? 'Agent' : rollout.bundleKind === 'model' ? 'Model' : 'OS image'} {rollout.version}
      </h2>
      <span className={`rollout-state is-${rollout.state}`} data-testid="rollout-state">
        {stateLabels[rollout.state]}
      </span>
      <span className="muted num">
        {counts.done} of {counts.total} done{counts.failed > 0 ? ` · ${counts.failed} failed` : ''} · batches {formatBatchSizes(rollout.batches)} · stop above {rollout.maxFailurePercent}%
      </span>
      <span className="mono muted rollout-id">{rollout.id}</span>
      <div className="header-actions">
        {canStop && (
          <Button className="button" onPress={cancel.cancel} isPending={cancel.cancelling}>
            {cancel.cancelling ? 'Stopping after the devices in flight…' : 'Stop'}
          </Button>
        )}
        {canResume(rollout) && (
          <Button className="button is-primary" onPress={onResume} isPending={resuming} data-testid="resume-rollout">
            Resume
          </Button>
        )}
      </div>
    </header>
  );
}
