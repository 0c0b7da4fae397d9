/**
 * The fleet grid's order: worst first, so the Pi that is cooking is the first tile a
 * technician sees. Within a status the order is by name, so tiles do not shuffle at every
 * sample.
 */
import type { DeviceHealthStatus, DeviceHealthView } from '../../../shared/fleetHealth.ts';
import { statusRank } from '../../../shared/healthAlerts.ts';

const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** A new array in the CLI's order (shared statusRank): critical, unreachable, stale, warning, connecting, ok; by name within each. */
export function sortWorstFirst(views: Iterable<DeviceHealthView>): DeviceHealthView[] {
  return [...views].sort(
    (a, b) => statusRank(a.status) - statusRank(b.status) || byName.compare(a.deviceName, b.deviceName) || a.deviceId.localeCompare(b.deviceId),
  );
}

/** The sites present, sorted, for the filter. */
export function sitesOf(views: Iterable<DeviceHealthView>): string[] {
  return [...new Set([...views].map((view) => view.site))].sort((a, b) => byName.compare(a, b));
}

/** Only the devices of `site`; all of them when `site` is null. */
export function filterBySite(views: readonly DeviceHealthView[], site: string | null): readonly DeviceHealthView[] {
  return site === null ? views : views.filter((view) => view.site === site);
}

export type StatusCounts = Readonly<Record<DeviceHealthStatus, number>>;

/** How many devices are in each status, for the header ("1 critical · 2 ok"). */
export function countByStatus(views: Iterable<DeviceHealthView>): StatusCounts {
  const counts: Record<DeviceHealthStatus, number> = { critical: 0, warning: 0, stale: 0, unreachable: 0, connecting: 0, ok: 0 };
  for (const view of views) counts[view.status] += 1;
  return counts;
}

/** The statuses in grid order, for summaries. */
export const statusOrder: readonly DeviceHealthStatus[] = ['critical', 'warning', 'stale', 'unreachable', 'connecting', 'ok'];
