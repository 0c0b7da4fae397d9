/**
 * A device's restore points. A point is a backup run of the device (its id is the run's id):
 * for each class, the newest good snapshot of that class recorded by then — so a run that took
 * only the state class still offers the config and secrets the device had at that time.
 * Points that would restore exactly the same snapshots are one (the newest run's). Each point
 * shows where all its classes have copies and what backup verification last said of them;
 * the newest point whose classes were all verified good is proposed.
 */
import { repoRoleLabels, type RepoRole, type VerificationEntry } from '../../shared/backup.ts';
import { BackupClassSchema } from '../../shared/backupStream.ts';
import type { Device } from '../../shared/devices.ts';
import type { PointVerification, RestorePoint, RestorePointClass } from '../../shared/recovery.ts';
import { locationOf, type BackupRunRow, type BackupRunStore, type RepositoryStore } from '../backup/index.ts';

/** A point with the rows behind it (the job needs each class's repository). */
export type PointWithRows = { point: RestorePoint; rows: BackupRunRow[] };

function copiesOf(repos: RepositoryStore, dataDir: string): (row: BackupRunRow) => RepoRole[] {
  const settings = repos.loadSettings();
  const held = new Map<string, Set<string>>();
  return (row) => {
    const out: RepoRole[] = ['laptop'];
    for (const role of ['site', 'offsite'] as const) {
      const location = locationOf(role, row.repo.kind, settings, dataDir);
      if (location === null || row.snapshotId === null) continue;
      const key = `${role}:${row.repo.kind}`;
      let set = held.get(key);
      if (set === undefined) {
        set = repos.copiesHeld(role, row.repo.kind, location);
        held.set(key, set);
      }
      if (set.has(row.snapshotId)) out.push(role);
    }
    return out;
  };
}

function verificationOf(classes: readonly RestorePointClass[], history: readonly VerificationEntry[]): PointVerification | null {
  let at = 0;
  const problems: string[] = [];
  const unverified: RestorePointClass['class'][] = [];
  for (const c of classes) {
    // History is newest first: the first sample of this snapshot is its last verification.
    const found = history.flatMap((e) => e.samples.map((s) => ({ at: e.at, s }))).find((x) => x.s.resticId === c.resticId);
    if (found === undefined) {
      unverified.push(c.class);
      continue;
    }
    at = Math.max(at, found.at);
    if (!found.s.ok) problems.push(`${c.class}: ${found.s.error ?? found.s.failures.map((f) => `${f.path} ${f.detail}`).join('; ')}`);
  }
  if (at === 0) return null;
  return { at, ok: problems.length === 0, unverified, problems };
}

export function restorePoints(device: Device, runs: BackupRunStore, repos: RepositoryStore, dataDir: string): PointWithRows[] {
  const good = runs.good({ device: device.id, limit: 5000 }).filter((r) => r.deviceRef === device.id && r.snapshotId !== null);
  const history = repos.history({ limit: 500 });
  const copies = copiesOf(repos, dataDir);
  // Runs newest first (good is ordered by ended_ms desc).
  const runIds = [...new Set(good.map((r) => r.jobId))];
  const seen = new Set<string>();
  const out: PointWithRows[] = [];
  for (const runId of runIds) {
    const end = Math.max(...good.filter((r) => r.jobId === runId).map((r) => r.endedMs));
    const rows = BackupClassSchema.options.flatMap((c) => good.find((r) => r.class === c && r.endedMs <= end) ?? []);
    const key = rows.map((r) => r.snapshotId).join(',');
    if (rows.length === 0 || seen.has(key)) continue;
    seen.add(key);
    const classes: RestorePointClass[] = rows.map((r) => ({ class: r.class, resticId: r.snapshotId ?? '', time: r.endedMs, sizeBytes: r.streamBytes, files: r.files, copies: copies(r), journalLastSeq: r.journalLastSeq }));
    const everywhere = (['laptop', 'site', 'offsite'] as const).filter((role) => classes.every((c) => c.copies.includes(role)));
    const newest = rows.reduce((a, b) => (b.endedMs > a.endedMs ? b : a));
    out.push({
      rows,
      point: {
        id: runId,
        deviceRef: device.id,
        deviceId: newest.deviceId,
        deviceName: device.name,
        time: end,
        classes,
        sizeBytes: classes.reduce((s, c) => s + c.sizeBytes, 0),
        agentVersion: newest.agentVersion,
        imageVersion: rows.find((r) => r.imageVersion !== null)?.imageVersion ?? null,
        modelVersion: rows.find((r) => r.class === 'state')?.modelVersion ?? newest.modelVersion,
        copies: everywhere,
        lastVerification: verificationOf(classes, history),
        proposed: false,
      },
    });
  }
  const proposed = out.find((p) => p.point.lastVerification?.ok === true && p.point.lastVerification.unverified.length === 0);
  if (proposed !== undefined) proposed.point.proposed = true;
  return out;
}

/** "this laptop, site drive": where a point's classes all have copies. */
export function copiesText(roles: readonly RepoRole[]): string {
  return roles.map((r) => repoRoleLabels[r]).join(', ');
}
