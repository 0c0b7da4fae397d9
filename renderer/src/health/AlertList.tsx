import type { HealthAlert } from '../../../shared/fleetHealth.ts';
import { formatLastSeen, noAlertsText } from './healthText.ts';
import { useSecondClock } from './secondClock.ts';

/** The device's alerts, worst first, each with what it means and what to do. */
export function AlertList({ alerts, sampled }: { alerts: readonly HealthAlert[]; sampled: boolean }) {
  const now = useSecondClock();
  if (alerts.length === 0) {
    return (
      <p className={sampled ? 'alerts-none' : 'alerts-none muted'} data-testid="device-alerts">
        {noAlertsText(sampled)}
      </p>
    );
  }
  const sorted = [...alerts].sort((a, b) => (a.severity === b.severity ? a.sinceMs - b.sinceMs : a.severity === 'critical' ? -1 : 1));
  return (
    <ul className="alert-list" data-testid="device-alerts">
      {sorted.map((alert) => (
        <li key={alert.code} className={`alert-item severity-${alert.severity}`} data-alert={alert.code}>
          <p className="alert-head">
            <span className={`status-badge status-${alert.severity}`}>{alert.severity === 'critical' ? 'Critical' : 'Warning'}</span>
            <strong className="alert-title">{alert.title}</strong>
            <span className="alert-since num">since {formatLastSeen(alert.sinceMs, now).replace(' ago', '')}</span>
          </p>
          <p className="alert-explanation">{alert.explanation}</p>
          <p className="alert-action">
            <span className="alert-action-label">What to do: </span>
            {alert.action}
          </p>
        </li>
      ))}
    </ul>
  );
}
