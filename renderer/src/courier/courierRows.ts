/**
 * The Courier table's rows: one per device, built from what this laptop holds per journal
 * (`courier.status`) and the devices it knows (`devices.list`), so a device shows (and can
 * be pulled) before its first pull, and journals of a removed device still show.
 */
import type { CourierJournal, ReconcileJournal } from '../../../shared/courier.ts';
import type { Device } from '../../../shared/devices.ts';

export type CourierDeviceRow = {
  /** Stable key: the laptop's device id, or `agent:<device id>` for a removed device. */
  key: string;
  /** The laptop's entry, needed to pull; null when the device was removed from this laptop. */
  device: Device | null;
  name: string;
  /** What the agent calls itself (its journal's device_id); null before it ever answered. */
  agentDeviceId: string | null;
  site: string;
  /** Newest pull first. */
  journals: readonly CourierJournal[];
  held: number;
  pending: number;
  lostRecords: number;
  losses: number;
  quarantined: number;
  lastPullMs: number | null;
  lastForwardMs: number | null;
};

/** Rows in the order of the device list, then journals of removed devices. */
export function courierRows(devices: readonly Device[], journals: readonly CourierJournal[]): CourierDeviceRow[] {
  const claimed = new Set<CourierJournal>();
  const rows: CourierDeviceRow[] = devices.map((device) => {
    const own = journals.filter((j) => j.device_ref === device.id || (j.device_ref === null && device.agentDeviceId !== null && j.device_id === device.agentDeviceId));
    for (const j of own) claimed.add(j);
    return buildRow(device.id, device, device.name, device.agentDeviceId ?? own[0]?.device_id ?? null, device.site, own);
  });
  const orphans = new Map<string, CourierJournal[]>();
  for (const j of journals) {
    if (claimed.has(j)) continue;
    orphans.set(j.device_id, [...(orphans.get(j.device_id) ?? []), j]);
  }
  for (const [agentId, own] of [...orphans].sort(([a], [b]) => a.localeCompare(b))) {
    rows.push(buildRow(`agent:${agentId}`, null, agentId, agentId, own[0]?.site ?? '', own));
  }
  return rows;
}

function buildRow(key: string, device: Device | null, name: string, agentDeviceId: string | null, site: string, own: readonly CourierJournal[]): CourierDeviceRow {
  const journals = [...own].sort((a, b) => b.last_pull_ms - a.last_pull_ms);
  const sum = (pick: (j: CourierJournal) => number) => journals.reduce((n, j) => n + pick(j), 0);
  const newest = (pick: (j: CourierJournal) => number | null) =>
    journals.reduce<number | null>((best, j) => {
      const value = pick(j);
      return value === null || (best !== null && best >= value) ? best : value;
    }, null);
  return {
    key,
    device,
    name,
    agentDeviceId,
    site: site === '' ? (journals[0]?.site ?? '') : site,
    journals,
    held: sum((j) => j.held),
    pending: sum((j) => j.pending_forward),
    lostRecords: sum((j) => j.lost_records),
    losses: sum((j) => j.losses),
    quarantined: sum((j) => j.quarantined),
    lastPullMs: newest((j) => j.last_pull_ms),
    lastForwardMs: newest((j) => j.last_forward_ms),
  };
}

/**
 * How far this laptop holds a journal without a gap, against the device's last seq as
 * last seen. A pull reads on past the seq the device reported when it started, so the
 * device's side is at least what is held.
 */
export function throughSeq(journal: CourierJournal): { through: number; of: number } {
  return { through: journal.contiguous_seq, of: Math.max(journal.agent_last_seq, journal.contiguous_seq) };
}

export type RowReconcile =
  | { kind: 'unchecked' }
  | { kind: 'complete'; duplicates: number }
  | { kind: 'not_yet_pulled'; badge: string; records: number; estimated: boolean; duplicates: number }
  | { kind: 'missing'; records: number; duplicates: number };

/**
 * The row's part of the last reconcile: complete only when every journal of the row is;
 * missing when any journal lacks records for a reason other than "still on the device".
 */
export function rowReconcile(row: CourierDeviceRow, reconciled: readonly ReconcileJournal[] | null): RowReconcile {
  if (reconciled === null || row.journals.length === 0) return { kind: 'unchecked' };
  const mine = row.journals.map((j) => reconciled.find((r) => r.device_id === j.device_id && r.journal_id === j.journal_id));
  if (mine.some((r) => r === undefined)) return { kind: 'unchecked' };
  const found = mine.filter((r): r is ReconcileJournal => r !== undefined);
  const duplicates = found.reduce((n, r) => n + r.duplicates_awaiting_merge, 0);
  const missing = found.reduce((n, r) => n + r.missing_records, 0);
  if (found.some((r) => r.status === 'missing')) return { kind: 'missing', records: missing, duplicates };
  const behind = found.filter((r) => r.status === 'not_yet_pulled');
  const newest = behind[0];
  if (newest === undefined) return { kind: 'complete', duplicates };
  return {
    kind: 'not_yet_pulled',
    // The newest journal's words ("complete through seq 60000"); older journals of the device are closed.
    badge: newest.badge,
    records: behind.reduce((n, r) => n + r.not_yet_pulled, 0),
    estimated: behind.some((r) => r.not_yet_pulled_estimated),
    duplicates,
  };
}
