import { useMemo, useState } from 'react';
import { Button } from 'react-aria-components';
import type { AppError } from '../../../shared/errors.ts';
import { formatAgo, formatBytes } from '../../../shared/format.ts';
import { isFinalJobEvent } from '../../../shared/jobs.ts';
import { DrillResultSchema, type RestorePoint } from '../../../shared/recovery.ts';
import { useApi, useBridge, useEvent } from '../api/hooks.ts';
import { classLabels, copiesWords } from '../format/backupWords.ts';
import { useJobs, useJobStore } from '../jobs/useJobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { useNow } from '../ui/useNow.ts';
import { DrillReport } from './DrillReport.tsx';
import './recovery.css';

type Spare = { id: string; name: string };

function verifiedWords(p: RestorePoint, now: number): string {
  const v = p.lastVerification;
  if (v === null) return 'not verified yet';
  const when = formatAgo(v.at, now);
  if (!v.ok) return `verification FAILED ${when}: ${v.problems.join('; ')}`;
  return v.unverified.length === 0 ? `verified ${when}` : `verified ${when} (not: ${v.unverified.map((c) => classLabels[c]).join(', ')})`;
}

/**
 * A device's recovery: its restore points (newest verified proposed) with Restore, a drill
 * onto a spare with its report (RTO split per step, RPO, checks), and the runbook of the last
 * restore or drill.
 */
export function DeviceRecovery({ deviceRef, deviceName, spares }: { deviceRef: string; deviceName: string; spares: readonly Spare[] }) {
  const bridge = useBridge();
  const now = useNow(30_000);
  const points = useApi('recovery.points', { deviceId: deviceRef });
  const history = useApi('recovery.history', { deviceId: deviceRef, limit: 5 });
  const store = useJobStore();
  const jobs = useJobs();
  const [spare, setSpare] = useState<string>(spares[0]?.id ?? '');
  const [confirm, setConfirm] = useState<string | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [runbook, setRunbook] = useState<{ path: string; markdown: string } | null>(null);
  const reload = points.reload;
  const reloadHistory = history.reload;
  useEvent('job.event', (event) => {
    if (!isFinalJobEvent(event)) return;
    const kind = store.get(event.jobId)?.kind;
    if (kind === undefined || kind.startsWith('recovery.') || kind === 'backup.run' || kind === 'backup.verify') {
      reload();
      reloadHistory();
    }
  });
  const mine = (params: unknown) => typeof params === 'object' && params !== null && !Array.isArray(params) && JSON.stringify(params).includes(`"id":"${deviceRef}"`);
  const running = jobs.find((j) => j.state === 'running' && j.kind.startsWith('recovery.') && mine(j.params));
  const lastDrill = useMemo(() => {
    for (const j of jobs) {
      if (j.kind !== 'recovery.drill' || j.state === 'running' || !mine(j.params)) continue;
      const parsed = DrillResultSchema.safeParse(j.result);
      if (parsed.success && parsed.data.deviceRef === deviceRef) return parsed.data;
    }
    return null;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [jobs, deviceRef]);

  function start(call: () => Promise<{ ok: boolean; error?: AppError }>): void {
    setError(null);
    setConfirm(null);
    void call().then((r) => {
      if (!r.ok && r.error !== undefined) setError(r.error);
    });
  }
  const restore = (pointId: string) => {
    start(() => bridge.invoke('recovery.restore', { deviceId: deviceRef, pointId }));
  };
  const drill = () => {
    start(() => bridge.invoke('recovery.drill', { deviceId: deviceRef, onto: spare }));
  };
  const showRunbook = (runId: number) => {
    void bridge.invoke('recovery.runbook', { runId }).then((r) => {
      if (r.ok) setRunbook(r.value);
      else setError(r.error);
    });
  };

  const list = points.value?.points ?? [];
  const lastRun = history.value?.runs[0];
  const drillFresh = history.value?.drills.find((d) => d.deviceRef === deviceRef);
  return (
    <section className="device-recovery" data-testid="device-recovery" aria-label={`Recovery of ${deviceName}`}>
      <div className="recovery-actions">
        <h3 className="section-heading">Recovery</h3>
        <span className="recovery-drill-state" data-testid="drill-state">
          {drillFresh === undefined ? '' : drillFresh.lastDrillAt === null ? 'Never drilled' : `Last drill ${formatAgo(drillFresh.lastDrillAt, now)}: ${drillFresh.lastDrillOk === true ? 'passed' : 'failed'}`}
          {drillFresh?.stale === true && <strong className="drill-overdue"> — drill overdue</strong>}
        </span>
        <label className="recovery-spare">
          Spare{' '}
          <select value={spare} onChange={(e) => { setSpare(e.target.value); }} aria-label="Spare to drill onto">
            {spares.length === 0 && <option value="">no other device</option>}
            {spares.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <Button className="button" isDisabled={spare === '' || list.length === 0 || running !== undefined} onPress={drill}>
          Drill onto spare
        </Button>
        {lastRun?.runbookPath != null && (
          <Button className="button" onPress={() => { showRunbook(lastRun.id); }}>
            Runbook of last {lastRun.kind}
          </Button>
        )}
      </div>
      {error !== null && <ErrorNotice error={error} compact />}
      {running !== undefined && <p className="recovery-running" aria-live="polite">{running.progress?.phase ?? running.title}…</p>}
      {lastDrill !== null && <DrillReport drill={lastDrill} />}
      {points.error !== null && <ErrorNotice error={points.error} compact />}
      <RestorePoints points={list} deviceName={deviceName} now={now} confirm={confirm} onConfirm={setConfirm} busy={running !== undefined} onRestore={restore} />
      {runbook !== null && (
        <div className="recovery-runbook" data-testid="runbook">
          <p className="mono">{runbook.path}</p>
          <pre>{runbook.markdown}</pre>
          <Button className="button" onPress={() => { setRunbook(null); }}>
            Close runbook
          </Button>
        </div>
      )}
    </section>
  );
}

/** The restore points, newest first, the proposed one marked; Restore asks once more before it starts. */
function RestorePoints(props: { points: readonly RestorePoint[]; deviceName: string; now: number; confirm: string | null; onConfirm: (id: string) => void; busy: boolean; onRestore: (id: string) => void }) {
  const { points: list, deviceName, now, confirm, busy } = props;
  if (list.length === 0) return null;
  return (
        <table className="data-table is-compact restore-points" aria-label={`Restore points of ${deviceName}`}>
          <thead>
            <tr>
              <th>Restore point</th>
              <th>Classes</th>
              <th className="is-num">Size</th>
              <th>Versions</th>
              <th>Copies</th>
              <th>Verification</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.slice(0, 8).map((p) => (
              <tr key={p.id} data-testid="restore-point" data-proposed={p.proposed ? 'true' : 'false'}>
                <td className="num">
                  {p.proposed && <strong className="proposed">proposed · </strong>}
                  {formatAgo(p.time, now)}
                </td>
                <td>{p.classes.map((c) => classLabels[c.class]).join(', ')}</td>
                <td className="is-num num">{formatBytes(p.sizeBytes)}</td>
                <td>{[p.agentVersion === null ? null : `agent ${p.agentVersion}`, p.modelVersion === null ? null : `model ${p.modelVersion}`].filter((x) => x !== null).join(', ') || '—'}</td>
                <td>{copiesWords(p.copies)}</td>
                <td>{verifiedWords(p, now)}</td>
                <td>
                  {confirm === p.id ? (
                    <Button className="button is-danger" isDisabled={busy} onPress={() => { props.onRestore(p.id); }}>
                      Back up, then restore
                    </Button>
                  ) : (
                    <Button className="button" isDisabled={busy} onPress={() => { props.onConfirm(p.id); }}>
                      Restore…
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
  );
}
