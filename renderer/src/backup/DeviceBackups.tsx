import type { BackupProblem, BackupSnapshot, SampleRestore, VerificationEntry } from '../../../shared/backup.ts';
import { formatBytes } from '../../../shared/format.ts';
import { isFinalJobEvent } from '../../../shared/jobs.ts';
import { useApi, useEvent } from '../api/hooks.ts';
import { useJobStore } from '../jobs/useJobs.ts';
import { formatAgo } from '../../../shared/format.ts';
import { DeviceRecovery } from '../recovery/index.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { useNow } from '../ui/useNow.ts';
import type { BackupDeviceRow } from './backupRows.ts';
import { classLabels, copiesWords, plural, shortId, versionWords } from './backupText.ts';

const exactTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const shownSnapshots = 30;

/** An expanded device: what verification found wrong (and what to do), then its snapshots newest first. */
export function DeviceBackups({ row, spares }: { row: BackupDeviceRow; spares: readonly { id: string; name: string }[] }) {
  const now = useNow(30_000);
  // Matched to snapshots by restic id, which is exact; the device ids in samples are restic's host names.
  const history = useApi('backup.history', { limit: 40 });
  const store = useJobStore();
  const reloadHistory = history.reload;
  // A verification that just ended (here or from the CLI) is new history.
  useEvent('job.event', (event) => {
    if (!isFinalJobEvent(event)) return;
    const kind = store.get(event.jobId)?.kind;
    if (kind === undefined || kind === 'backup.verify') reloadHistory();
  });
  const samples = latestSamples(history.value?.entries ?? []);
  return (
    <div className="device-backups" data-testid="device-backups" data-device-name={row.name}>
      {row.problems.length > 0 && <ProblemList problems={row.problems} />}
      {row.snapshots.length === 0 ? (
        <p className="backup-empty-detail">
          No snapshots of {row.name} on any repository yet: back it up.
        </p>
      ) : (
        <table className="data-table is-compact snapshot-table" aria-label={`Snapshots of ${row.name}`}>
          <thead>
            <tr>
              <th className="col-s-time">Taken</th>
              <th className="col-s-class">Class</th>
              <th className="col-s-size is-num">Size</th>
              <th className="col-s-files is-num">Files</th>
              <th className="col-s-versions">Versions</th>
              <th className="col-s-copies">Copies</th>
              <th className="col-s-verified">Last verification</th>
              <th className="col-s-id">Snapshot</th>
            </tr>
          </thead>
          <tbody>
            {row.snapshots.slice(0, shownSnapshots).map((s) => (
              <tr key={`${s.repo}:${s.resticId}`} data-testid="snapshot-row" data-class={s.class}>
                <td className="num" title={exactTime.format(s.time)}>
                  {formatAgo(s.time, now)}
                </td>
                <td>{classLabels[s.class]}</td>
                <td className="is-num num">{formatBytes(s.sizeBytes)}</td>
                <td className="is-num num">{s.files.toLocaleString('en-US')}</td>
                <td>{versionWords(s)}</td>
                <td>{copiesWords(s.copies)}</td>
                <td>
                  <VerifiedCell snapshot={s} samples={samples} loading={history.loading} failed={history.error !== null} now={now} />
                </td>
                <td className="mono">{shortId(s.resticId)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {row.snapshots.length > shownSnapshots && <p className="backup-more">{plural(row.snapshots.length - shownSnapshots, 'older snapshot')} not shown; the CLI lists them all: fieldkit backup list --json.</p>}
      {row.device !== null && <DeviceRecovery deviceRef={row.device.id} deviceName={row.name} spares={spares} />}
      {history.error !== null && (
        <div className="backup-history-error">
          <p className="backup-more">Could not read the verification history:</p>
          <ErrorNotice error={history.error} compact />
        </div>
      )}
    </div>
  );
}

function ProblemList({ problems }: { problems: readonly BackupProblem[] }) {
  return (
    <ul className="backup-problems" aria-label="What verification found wrong">
      {problems.map((p) => (
        <li key={`${String(p.at)}:${p.role}:${p.kind}:${p.class ?? ''}:${p.message}`} className="backup-problem" data-testid="backup-problem" role="alert">
          <p className="backup-problem-message">
            {p.class === null ? '' : `${classLabels[p.class]}: `}
            {p.message}
          </p>
          <p className="backup-problem-hint">{p.hint}</p>
        </li>
      ))}
    </ul>
  );
}

type Sample = { at: number; sample: SampleRestore };

/** The newest sample restore of each snapshot, from the history (newest first). */
function latestSamples(entries: readonly VerificationEntry[]): ReadonlyMap<string, Sample> {
  const found = new Map<string, Sample>();
  for (const entry of entries) {
    for (const sample of entry.samples) {
      if (!found.has(sample.resticId)) found.set(sample.resticId, { at: entry.at, sample });
    }
  }
  return found;
}

function VerifiedCell({ snapshot, samples, loading, failed, now }: { snapshot: BackupSnapshot; samples: ReadonlyMap<string, Sample>; loading: boolean; failed: boolean; now: number }) {
  const found = samples.get(snapshot.resticId);
  // Without the history this window cannot know: never say "not verified" then.
  if (found === undefined) return <span className="muted">{failed ? 'unknown (history unavailable)' : loading ? '…' : 'not verified yet'}</span>;
  const { sample, at } = found;
  if (sample.ok) {
    const sqlite = sample.sqliteChecked > 0 ? `, ${plural(sample.sqliteChecked, 'database')} intact` : '';
    return (
      <span className="verified is-ok" title={exactTime.format(at)}>
        <span aria-hidden="true">✓ </span>
        {sample.filesChecked === 0 ? 'restored (the class holds no files)' : `${plural(sample.filesChecked, 'file')} restored and matched${sqlite}`}, {formatAgo(at, now)}
      </span>
    );
  }
  const why = sample.error ?? sample.failures.map((f) => `${f.path}: ${f.detail}`).join('; ');
  return (
    <span className="verified is-failed" title={why}>
      <span aria-hidden="true">! </span>
      restore failed {formatAgo(at, now)}: {why}
    </span>
  );
}
