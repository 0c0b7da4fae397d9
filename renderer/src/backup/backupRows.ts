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

/**
 * Rows in the order of the device list, then devices known only by their backups (by id).
 * A line belongs to a device by the laptop's id it carries (`deviceRef`), else by the
 * agent's id the device entry knows.
 */
export function backupRows(devices: readonly Device[], listing: BackupListing): BackupDeviceRow[] {
  const ownerOf = ownerFinder(devices);
  const byOwner = new Map<string, BackupFreshness[]>();
  for (const f of listing.freshness) {
    const owner = ownerOf(f) ?? `agent:${f.deviceId}`;
    byOwner.set(owner, [...(byOwner.get(owner) ?? []), f]);
  }
  const rows = devices.map((device) => {
    const own = byOwner.get(device.id) ?? [];
    const agentId = device.agentDeviceId ?? own.find((f) => f.deviceId !== device.id)?.deviceId ?? null;
    return buildRow(device.id, device, device.name, agentId, device.site, own, listing, ownerOf);
  });
  const orphans = [...byOwner.keys()].filter((key) => key.startsWith('agent:')).sort((a, b) => a.localeCompare(b));
  for (const key of orphans) {
    const own = byOwner.get(key) ?? [];
    const agentId = key.slice('agent:'.length);
    rows.push(buildRow(key, null, own[0]?.deviceName ?? agentId, agentId, own[0]?.site ?? '', own, listing, ownerOf));
  }
  return rows;
}

type Owned = { deviceId: string | null; deviceRef?: string | null | undefined };

/** The laptop device id a line belongs to, or null when no registered device claims it. */
function ownerFinder(devices: readonly Device[]): (item: Owned) => string | null {
  const refs = new Set(devices.map((d) => d.id));
  const byAgent = new Map(devices.flatMap((d) => (d.agentDeviceId === null ? [] : [[d.agentDeviceId, d.id] as const])));
  return (item) => {
    const ref = item.deviceRef ?? null;
    if (ref !== null && refs.has(ref)) return ref;
    if (item.deviceId === null) return null;
    return byAgent.get(item.deviceId) ?? (refs.has(item.deviceId) ? item.deviceId : null);
  };
}

function buildRow(key: string, device: Device | null, name: string, agentDeviceId: string | null, site: string, own: readonly BackupFreshness[], listing: BackupListing, ownerOf: (item: Owned) => string | null): BackupDeviceRow {
  // Newest first, so a class listed twice shows its latest good backup.
  const newest = [...own].sort((a, b) => (b.lastGoodAt ?? -1) - (a.lastGoodAt ?? -1));
  const classes = Object.fromEntries(backupClasses.map((c) => [c, newest.find((f) => f.class === c) ?? null])) as Record<BackupClass, BackupFreshness | null>;
  const mine = <T extends Owned>(items: readonly T[]) =>
    items.filter((i) => (device === null ? i.deviceId !== null && ownerOf(i) === null && i.deviceId === agentDeviceId : ownerOf(i) === device.id));
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
