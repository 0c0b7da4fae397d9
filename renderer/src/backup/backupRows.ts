/**
 * The Backups table's rows: one per device, joining the devices this laptop knows
 * (`devices.list`, so a device shows — and can be backed up — before its first backup) with
 * freshness, snapshots and problems from `backup.list` (keyed by the agent's own device id,
 * so backups of a device removed from this laptop still show).
 */
import type { BackupFreshness, BackupProblem, BackupSnapshot } from '../../../shared/backup.ts';
import { BackupClassSchema, type BackupClass } from '../../../shared/backupStream.ts';
import type { Device } from '../../../shared/devices.ts';

export const backupClasses: readonly BackupClass[] = BackupClassSchema.options;

export type BackupDeviceRow = {
  /** Stable key: the laptop's device id, or `agent:<device id>` for a device removed from this laptop. */
  key: string;
  /** The laptop's entry, needed to back it up; null when only its backups are known here. */
  device: Device | null;
  name: string;
  agentDeviceId: string | null;
  site: string;
  /** Null for a class the laptop has no freshness line for (never backed up, never listed). */
  classes: Readonly<Record<BackupClass, BackupFreshness | null>>;
  /** Classes with no good backup within their window, or none at all. */
  staleClasses: readonly BackupClass[];
  /** Newest first. */
  snapshots: readonly BackupSnapshot[];
  problems: readonly BackupProblem[];
};

export type BackupListing = { freshness: readonly BackupFreshness[]; snapshots: readonly BackupSnapshot[]; problems: readonly BackupProblem[] };

/** Rows in the order of the device list, then devices known only by their backups (by id). */
export function backupRows(devices: readonly Device[], listing: BackupListing): BackupDeviceRow[] {
  const byAgent = new Map<string, BackupFreshness[]>();
  for (const f of listing.freshness) byAgent.set(f.deviceId, [...(byAgent.get(f.deviceId) ?? []), f]);
  const claimed = new Set<string>();
  const rows = devices.map((device) => {
    const agentId = device.agentDeviceId;
    if (agentId !== null) claimed.add(agentId);
    return buildRow(device.id, device, device.name, agentId, device.site, agentId === null ? [] : (byAgent.get(agentId) ?? []), listing);
  });
  const orphans = [...byAgent.keys()].filter((id) => !claimed.has(id)).sort((a, b) => a.localeCompare(b));
  for (const agentId of orphans) {
    const own = byAgent.get(agentId) ?? [];
    rows.push(buildRow(`agent:${agentId}`, null, own[0]?.deviceName ?? agentId, agentId, own[0]?.site ?? '', own, listing));
  }
  return rows;
}

function buildRow(key: string, device: Device | null, name: string, agentDeviceId: string | null, site: string, own: readonly BackupFreshness[], listing: BackupListing): BackupDeviceRow {
  const classes = Object.fromEntries(backupClasses.map((c) => [c, own.find((f) => f.class === c) ?? null])) as Record<BackupClass, BackupFreshness | null>;
  const mine = <T extends { deviceId: string | null }>(items: readonly T[]) => (agentDeviceId === null ? [] : items.filter((i) => i.deviceId === agentDeviceId));
  return {
    key,
    device,
    name,
    agentDeviceId,
    site: site === '' ? (own[0]?.site ?? '') : site,
    classes,
    // A class with no line at all has never been backed up: that is stale too, never silence.
    staleClasses: backupClasses.filter((c) => classes[c]?.stale ?? true),
    snapshots: [...mine(listing.snapshots)].sort((a, b) => b.time - a.time),
    problems: mine(listing.problems),
  };
}

/** Problems that belong to no device: a damaged repository. */
export function repositoryProblems(problems: readonly BackupProblem[]): BackupProblem[] {
  return problems.filter((p) => p.deviceId === null);
}

/** How the row reads at a glance; the words beside it say the same (never colour alone). */
export function rowTone(row: BackupDeviceRow): 'ok' | 'warn' | 'danger' | 'idle' {
  if (row.problems.length > 0) return 'danger';
  if (neverBackedUp(row)) return 'idle';
  return row.staleClasses.length > 0 ? 'warn' : 'ok';
}

/** The whole table in one line for the header. */
export function backupSummary(rows: readonly BackupDeviceRow[]): string {
  const devices = `${rows.length} device${rows.length === 1 ? '' : 's'}`;
  if (rows.length === 0) return devices;
  const never = rows.filter(neverBackedUp).length;
  const overdue = rows.filter((r) => r.staleClasses.length > 0).length - never;
  const problems = rows.filter((r) => r.problems.length > 0).length;
  const parts = [devices];
  if (never > 0) parts.push(`${never} never backed up`);
  if (overdue > 0) parts.push(`${overdue} with an overdue class`);
  if (problems > 0) parts.push(`${problems} failed verification`);
  if (parts.length === 1) parts.push('every class within its window');
  return parts.join(' · ');
}

/** No class of the device has a good backup. */
export function neverBackedUp(row: BackupDeviceRow): boolean {
  return backupClasses.every((c) => (row.classes[c]?.lastGoodAt ?? null) === null);
}
