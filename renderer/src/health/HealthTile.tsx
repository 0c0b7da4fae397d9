import { memo } from 'react';
import { Button } from 'react-aria-components';
import type { AlertCode, DeviceHealthView } from '../../../shared/fleetHealth.ts';
import { formatBacklog, formatCount, formatLastSeen, formatPercent, formatTemp, fullestDisk, powerWords, statusLabels } from './healthText.ts';
import { useSecondClock } from './secondClock.ts';

const powerAlerts: ReadonlySet<AlertCode> = new Set(['under-voltage-now', 'under-voltage-since-boot', 'throttled-now', 'throttled-since-boot']);

/**
 * One device on the fleet grid. Memoised: the fleet store keeps a device's view object
 * while nothing about it changed, so of fifty tiles only those with a new sample render.
 */
export const HealthTile = memo(function HealthTile({ view, onOpen }: { view: DeviceHealthView; onOpen: (deviceId: string) => void }) {
  const sample = view.sample;
  const disk = sample === null ? null : fullestDisk(sample.disks);
  const power = sample === null ? null : powerWords(sample);
  // Overdue backups are marked on the tile itself, also while the Pi is offline.
  const backup = view.alerts.find((a) => a.code === 'backup-stale');
  const drill = view.alerts.find((a) => a.code === 'drill-stale');
  const open = (): void => {
    onOpen(view.deviceId);
  };
  return (
    <article
      className={`health-tile status-${view.status}`}
      data-testid="health-tile"
      data-device-id={view.deviceId}
      data-status={view.status}
      aria-label={`${view.deviceName}: ${statusLabels[view.status]}`}
      onClick={open}
    >
      <header className="tile-head">
        <Button className="tile-name" onPress={open} aria-label={`Open ${view.deviceName}`}>
          {view.deviceName}
        </Button>
        <span className={`status-badge status-${view.status}`} data-testid="tile-status">
          {statusLabels[view.status]}
        </span>
        {backup !== undefined && (
          <span className="tile-backup-marker" data-testid="tile-backup-marker" title={`${backup.title}. ${backup.action}`} aria-label={backup.title}>
            backup overdue
          </span>
        )}
        {drill !== undefined && (
          <span className="tile-backup-marker" data-testid="tile-drill-marker" title={`${drill.title}. ${drill.action}`} aria-label={drill.title}>
            drill overdue
          </span>
        )}
      </header>
      {sample === null ? (
        <p className="tile-waiting">{view.linkError ?? (view.status === 'unreachable' ? 'Cannot reach this device.' : 'Waiting for the first sample…')}</p>
      ) : (
        <>
          <dl className="tile-figures num">
            <div className={view.alerts.some((a) => a.code.startsWith('temp-')) ? 'is-alert' : undefined}>
              <dt>Temp</dt>
              <dd data-testid="tile-temp">{formatTemp(sample.temp_c)}</dd>
            </div>
            <div>
              <dt>CPU</dt>
              <dd>{formatPercent(sample.cpu_pct)}</dd>
            </div>
            <div className={view.alerts.some((a) => a.code === 'disk-full') ? 'is-alert' : undefined} title={disk?.path}>
              <dt>Disk</dt>
              <dd>{disk === null ? '—' : formatPercent(disk.usedPercent)}</dd>
            </div>
            <div className={view.alerts.some((a) => a.code === 'backlog-growing') ? 'is-alert' : undefined} title={`Journal: ${formatBacklog(sample.journal.backlog_records)}`}>
              <dt>Backlog</dt>
              <dd data-testid="tile-backlog">{formatCount(sample.journal.backlog_records)}</dd>
            </div>
          </dl>
          {/* Power trouble already has its alert lines below; say it here only when all is well or unknown. */}
          {power !== null && !view.alerts.some((a) => powerAlerts.has(a.code)) && <p className={`tile-power tone-${power.tone}`}>{power.words.join(' · ')}</p>}
        </>
      )}
      {view.alerts.length > 0 && (
        <ul className="tile-alerts" data-testid="tile-alerts">
          {view.alerts.map((alert) => (
            <li key={alert.code} className={`severity-${alert.severity}`}>
              {alert.title}
            </li>
          ))}
        </ul>
      )}
      {view.sample !== null && view.linkError !== null && <p className="tile-link-error">{view.linkError}</p>}
      <footer className="tile-foot">
        <span className="tile-versions">
          {sample === null ? view.site : `agent ${sample.agent_version}${sample.model_version === null ? '' : ` · ${sample.model_version}`}`}
        </span>
        <LastSeen atMs={view.lastSampleMs} />
      </footer>
    </article>
  );
});

function LastSeen({ atMs }: { atMs: number | null }) {
  const now = useSecondClock();
  return (
    <span className="tile-seen num" data-testid="tile-seen">
      {formatLastSeen(atMs, now)}
    </span>
  );
}
