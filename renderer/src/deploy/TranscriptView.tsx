import type { DeviceDeployOutcome } from '../../../shared/deploy.ts';
import { formatDuration } from '../../../shared/format.ts';

/** Every command a deploy ran on one device: step, command, exit code, time and output. */
export function TranscriptView({ device }: { device: DeviceDeployOutcome }) {
  if (device.transcript.length === 0) {
    return <p className="muted">No commands recorded for {device.deviceName} yet.</p>;
  }
  return (
    <ol className="transcript" aria-label={`Transcript of ${device.deviceName}`} data-testid="transcript">
      {device.transcript.map((entry, i) => {
        const bad = entry.exitCode !== null && entry.exitCode !== 0;
        return (
          <li key={`${String(entry.at)}-${String(i)}`} className={bad ? 'transcript-entry is-bad' : 'transcript-entry'}>
            <div className="transcript-head">
              <span className="transcript-step">{entry.step}</span>
              <code className="transcript-command">{entry.command}</code>
              <span className={bad ? 'transcript-exit is-bad' : 'transcript-exit'}>{entry.exitCode === null ? 'laptop' : `exit ${String(entry.exitCode)}`}</span>
              <span className="transcript-time num">{formatDuration(entry.durationMs / 1000)}</span>
            </div>
            {entry.output.trim() !== '' && <pre className="transcript-output">{entry.output.trimEnd()}</pre>}
          </li>
        );
      })}
    </ol>
  );
}
