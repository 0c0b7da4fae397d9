import type { DrillResult, RecoveryStep } from '../../../shared/recovery.ts';
import { ageWords } from '../format/backupWords.ts';

const exactTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** Short names for the steps (the full title, with the device, is the tooltip). */
const stepLabels: Readonly<Record<string, string>> = {
  connect: 'Connect to the spare',
  'check-snapshot': 'Check the snapshots',
  'backup-before': 'Back up first',
  'stop-services': 'Stop services',
  'restore-config': 'Restore config',
  'restore-state': 'Restore state',
  'restore-data': 'Restore data',
  'restore-secrets': 'Restore secrets',
  'check-device-databases': 'Check databases',
  'journal-aside': 'Set the journal aside',
  'start-services': 'Start services',
  'verify-service': 'Verify the service',
  'retire-spare': 'Stop the spare',
};

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One bar per step, its width its share of the whole: where the RTO went. */
function StepBars({ steps }: { steps: readonly RecoveryStep[] }) {
  const total = Math.max(1, steps.reduce((s, x) => s + x.durationMs, 0));
  return (
    <table className="data-table is-compact drill-steps" aria-label="Steps and their time">
      <tbody>
        {steps.map((s) => (
          <tr key={`${s.name}:${String(s.startedAt)}`} data-testid="drill-step" data-step={s.name} data-status={s.status}>
            <td className="drill-step-title" title={`${s.title}${s.detail === null ? '' : ` — ${s.detail}`}`}>
              {s.status === 'failed' ? '✗ ' : s.status === 'skipped' ? '– ' : ''}
              {stepLabels[s.name] ?? s.title}
            </td>
            <td className="drill-step-bar" aria-hidden="true">
              <span className={`drill-bar is-${s.status}`} style={{ width: `${String(Math.max(1, Math.round((s.durationMs / total) * 100)))}%` }} />
            </td>
            <td className="is-num num">{secs(s.durationMs)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A drill's report: passed or not, RTO with its split per step, RPO, the checks, the source compared. */
export function DrillReport({ drill }: { drill: DrillResult }) {
  const rpo = drill.rpo;
  const retired = drill.steps.find((s) => s.name === 'retire-spare');
  return (
    <section className={`drill-report ${drill.ok ? 'is-ok' : 'is-failed'}`} data-testid="drill-report" aria-label={`Drill of ${drill.deviceName} onto ${drill.spareName}`}>
      <header className="drill-report-head">
        <h3>
          Drill onto {drill.spareName}: <strong>{drill.ok ? 'passed' : 'FAILED'}</strong>
        </h3>
        <dl className="drill-figures num">
          <div>
            <dt>RTO</dt>
            <dd data-testid="drill-rto">{secs(drill.rtoMs)}</dd>
          </div>
          <div>
            <dt>RPO</dt>
            <dd data-testid="drill-rpo" title={`State restored as of ${exactTime.format(rpo.restoredStateAt)}`}>
              {ageWords(rpo.ageSeconds)} old
            </dd>
          </div>
          <div>
            <dt>Journal</dt>
            <dd>{rpo.restoredJournalSeq === null ? '—' : `to seq ${rpo.restoredJournalSeq.toLocaleString('en-US')}`}</dd>
          </div>
          <div>
            <dt>Records after it</dt>
            <dd>
              {rpo.recordsAfterOnLaptop === null ? 'none pulled' : `${rpo.recordsAfterOnLaptop.toLocaleString('en-US')} on the laptop`}
              {rpo.recordsAfterOnDevice === null ? '' : `, ${rpo.recordsAfterOnDevice.toLocaleString('en-US')} on the device at its last pull`}
            </dd>
          </div>
        </dl>
      </header>
      <div className="drill-report-body">
        <StepBars steps={drill.steps} />
        <div className="drill-side">
          <ul className="drill-checks" aria-label="Checks">
            {drill.checks.map((c) => (
              <li key={c.name} className={c.ok ? 'is-ok' : 'is-failed'} data-testid="drill-check" data-check={c.name}>
                <span aria-hidden="true">{c.ok ? '✓ ' : '✗ '}</span>
                <strong>{c.name}</strong> {c.detail}
              </li>
            ))}
          </ul>
          {drill.comparison.length > 0 && (
            <table className="data-table is-compact drill-compare" aria-label="Compared with the source">
              <thead>
                <tr>
                  <th>Compared</th>
                  <th>Source (last known)</th>
                  <th>Spare</th>
                </tr>
              </thead>
              <tbody>
                {drill.comparison.map((c) => (
                  <tr key={c.metric} className={c.ok ? undefined : 'is-alert'}>
                    <td>{c.metric}</td>
                    <td>{c.source ?? '—'}</td>
                    <td>{c.restored ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>
      {/* The spare answers as the source after a drill: what was left on it, and how to clean it up. */}
      {retired?.detail != null && (
        <p className="drill-left" data-testid="drill-left-on-spare">
          <strong>Left on {drill.spareName}:</strong> {retired.detail}
        </p>
      )}
      {drill.runbookPath !== null && <p className="drill-runbook mono">Runbook: {drill.runbookPath}</p>}
    </section>
  );
}
