import { useMemo, useState } from 'react';
import type { DeviceHealthView } from '../../../shared/fleetHealth.ts';
import { countByStatus, filterBySite, sitesOf, sortWorstFirst, statusOrder } from './fleetOrder.ts';
import { HealthTile } from './HealthTile.tsx';
import { statusLabels } from './healthText.ts';

/** Every watched device as a tile, worst first, optionally one site only. */
export function FleetGrid({ views, loaded, onOpen }: { views: ReadonlyMap<string, DeviceHealthView>; loaded: boolean; onOpen: (deviceId: string) => void }) {
  const [site, setSite] = useState<string | null>(null);
  const sorted = useMemo(() => sortWorstFirst(views.values()), [views]);
  const sites = useMemo(() => sitesOf(sorted), [sorted]);
  const shown = filterBySite(sorted, site !== null && sites.includes(site) ? site : null);
  const counts = countByStatus(shown);
  return (
    <section className="fleet" aria-label="Fleet health">
      <div className="fleet-bar">
        <p className="fleet-summary num" aria-live="polite" data-testid="fleet-summary">
          {!loaded
            ? 'Loading…'
            : `${shown.length} device${shown.length === 1 ? '' : 's'}${statusOrder
                .filter((status) => counts[status] > 0)
                .map((status) => ` · ${counts[status]} ${statusLabels[status].toLowerCase()}`)
                .join('')}`}
        </p>
        {sites.length > 1 && (
          <label className="fleet-site">
            Site{' '}
            <select
              className="input"
              value={site ?? ''}
              onChange={(event) => {
                setSite(event.target.value === '' ? null : event.target.value);
              }}
              data-testid="site-filter"
            >
              <option value="">All sites</option>
              {sites.map((name) => (
                <option key={name} value={name}>
                  {name === '' ? '(no site)' : name}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {loaded && shown.length === 0 ? (
        <p className="fleet-empty">No devices to watch. Add one on Devices, or start fieldkit with the demo site.</p>
      ) : (
        <div className="fleet-grid" data-testid="fleet-grid">
          {shown.map((view) => (
            <HealthTile key={view.deviceId} view={view} onOpen={onOpen} />
          ))}
        </div>
      )}
    </section>
  );
}
