import { memo, useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { Button } from 'react-aria-components';
import type { AppError } from '../../../shared/errors.ts';
import { describeService } from '../../../shared/agentServiceAlerts.ts';
import { defaultHealthThresholds, type DeviceHealthView, type HealthThresholds } from '../../../shared/fleetHealth.ts';
import { useApi, useBridge, useConnectionOpens, useEvent } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { BackKeysHint, useBackKeys } from '../ui/useBackKeys.tsx';
import { AlertList } from './AlertList.tsx';
import type { FleetStore } from './fleetStore.ts';
import { HealthCharts, type ChartFeed } from './HealthCharts.tsx';
import { HealthHistoryPanel } from './HealthHistoryPanel.tsx';
import { formatLastSeen, powerWords, statusLabels } from './healthText.ts';
import { createSampleWindow, type SampleWindow } from './sampleWindow.ts';
import { useSecondClock } from './secondClock.ts';

const Charts = memo(HealthCharts);

type LiveWindow = ChartFeed & { window: SampleWindow; added(): void };

function createLiveWindow(): LiveWindow {
  const window = createSampleWindow();
  const listeners = new Set<() => void>();
  return {
    window,
    samples: () => window.samples(),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    added() {
      for (const listener of [...listeners]) listener();
    },
  };
}

/**
 * One device up close: its alerts with what to do, the last fifteen minutes as per-second
 * charts (filled from `health.device`, then appended from `health.changed`), and the
 * history pulled with its journal.
 */
export function DevicePage({ deviceId, store, onBack }: { deviceId: string; store: FleetStore; onBack: () => void }) {
  const bridge = useBridge();
  const opens = useConnectionOpens();
  const view = useSyncExternalStore(store.subscribe, () => store.snapshot().views.get(deviceId));
  const settings = useApi('settings.health.get', {});
  const thresholds = settings.value?.thresholds ?? defaultHealthThresholds;
  const [live] = useState(createLiveWindow);
  const [fetched, setFetched] = useState<DeviceHealthView | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  useBackKeys(onBack);

  useEffect(() => {
    let current = true;
    void bridge.invoke('health.device', { deviceId }).then((result) => {
      if (!current) return;
      if (!result.ok) {
        setError(result.error);
        return;
      }
      setError(null);
      setFetched(result.value.view);
      live.window.fill(result.value.recent);
      live.added();
    });
    return () => {
      current = false;
    };
  }, [bridge, deviceId, opens, live]);

  // Every sample, not only the latest per view: the service batches events, so one may carry several.
  useEvent('health.changed', ({ samples }) => {
    let added = false;
    for (const s of samples) {
      if (s.deviceId === deviceId && live.window.push(s.sample)) added = true;
    }
    if (added) live.added();
  });

  const shown = view ?? fetched;
  // The settings answer is a new object at every reload: redraw the charts only when a threshold changed.
  const thresholdsKey = JSON.stringify(thresholds);
  const stableThresholds = useMemo(() => JSON.parse(thresholdsKey) as HealthThresholds, [thresholdsKey]);
  return (
    <div className="device-health" data-testid="device-health" data-device-id={deviceId}>
      <header className="device-health-head">
        <Button className="button is-small" onPress={onBack}>
          ← Fleet
          <BackKeysHint />
        </Button>
        <h2 className="device-health-name">{shown?.deviceName ?? deviceId}</h2>
        {shown !== null && (
          <span className={`status-badge status-${shown.status}`} data-testid="device-status">
            {statusLabels[shown.status]}
          </span>
        )}
        {shown !== null && <DeviceFacts view={shown} />}
      </header>
      {error !== null && <ErrorNotice error={error} />}
      {shown?.linkError != null && <p className="device-link-error">{shown.linkError}</p>}
      <section aria-labelledby="alerts-heading" className="device-alerts">
        <h2 id="alerts-heading" className="visually-hidden">
          Alerts
        </h2>
        <AlertList alerts={shown?.alerts ?? []} sampled={(shown?.sample ?? null) !== null} />
      </section>
      <section aria-label="Last 15 minutes" className="device-charts">
        <p className="section-note muted">Last 15 minutes, one point per second.</p>
        <Charts feed={live} thresholds={stableThresholds} />
      </section>
      <HealthHistoryPanel deviceId={deviceId} />
    </div>
  );
}

function DeviceFacts({ view }: { view: DeviceHealthView }) {
  const now = useSecondClock();
  const sample = view.sample;
  return (
    <p className="device-health-facts num">
      {view.site !== '' && <span>{view.site}</span>}
      <span>seen {formatLastSeen(view.lastSeenMs ?? view.lastSampleMs, now)}</span>
      {sample !== null && (
        <>
          <span>
            agent {sample.agent_version}
            {sample.model_version === null ? '' : ` · model ${sample.model_version}`}
          </span>
          <span>up {formatUptime(sample.uptime_s)}</span>
          <span className={sample.service?.state === 'running' ? undefined : 'tone-now'} data-testid="device-service">
            service {describeService(sample)}
          </span>
          <span className={`tone-${powerWords(sample).tone}`}>{powerWords(sample).words.join(' · ')}</span>
        </>
      )}
    </p>
  );
}

function formatUptime(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}
