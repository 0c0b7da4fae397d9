/**
 * Retention per device × class: `restic forget --group-by host,paths --keep-*` with the
 * class's policy (one run per class, since each class keeps differently), first with
 * --dry-run --json to show what would go, then for real with --prune.
 */
import { BackupClassSchema, type BackupClass } from '../../shared/backupStream.ts';
import type { Retention, RetentionGroup } from '../../shared/backup.ts';
import { parseResticJson, ForgetOutputSchema, resticTimeMs, type ForgetGroupJson } from './restic/resticJson.ts';
import { runRestic, type ResticRepo } from './restic/resticProcess.ts';
import { withStaleLockCleared } from './restic/resticRepo.ts';
import { repoKindOf, type RepoKind } from '../../shared/backup.ts';

export type RetentionScope = { deviceId: string | null; class: BackupClass | null; retention: Record<BackupClass, Retention> };

function keepArgs(r: Retention): string[] {
  const pairs: [string, number][] = [['--keep-last', r.keepLast], ['--keep-hourly', r.keepHourly], ['--keep-daily', r.keepDaily], ['--keep-weekly', r.keepWeekly], ['--keep-monthly', r.keepMonthly]];
  const args = pairs.filter(([, n]) => n > 0).flatMap(([flag, n]) => [flag, String(n)]);
  // restic refuses a forget with no policy ("no policy was specified"): keeping nothing is never meant.
  return args.length === 0 ? ['--keep-last', '1'] : args;
}

function groupOf(json: ForgetGroupJson, cls: BackupClass, retention: Retention): RetentionGroup {
  const reasons = new Map(json.reasons.map((r) => [r.snapshot.time, r.matches]));
  const ref = (s: ForgetGroupJson['keep'][number]) => ({ resticId: s.id, time: resticTimeMs(s.time), reasons: reasons.get(s.time) ?? [] });
  return { deviceId: json.host, class: cls, retention, keep: json.keep.map(ref), remove: json.remove.map(ref) };
}

/** The classes a repository of `kind` holds, narrowed to the scope. */
function classesIn(kind: RepoKind, scope: RetentionScope): BackupClass[] {
  return BackupClassSchema.options.filter((c) => repoKindOf(c) === kind && (scope.class === null || scope.class === c));
}

/** Runs forget per class in one repository; dryRun shows, else it removes and prunes. */
export async function forgetIn(repo: ResticRepo, kind: RepoKind, scope: RetentionScope, dryRun: boolean, signal?: AbortSignal, log: (m: string) => void = () => undefined): Promise<RetentionGroup[]> {
  const groups: RetentionGroup[] = [];
  for (const cls of classesIn(kind, scope)) {
    const retention = scope.retention[cls];
    const args = ['forget', '--json', '--group-by', 'host,paths', '--tag', 'fieldkit', '--path', `/${cls}.tar`, ...keepArgs(retention)];
    if (scope.deviceId !== null) args.push('--host', scope.deviceId);
    args.push(dryRun ? '--dry-run' : '--prune');
    const { stdout } = await withStaleLockCleared(repo, () => runRestic({ repo, args, what: dryRun ? 'preview retention' : 'apply retention', signal, graceMs: 10_000 }), log);
    // With --prune restic prints its prune report after the JSON: the JSON is the first line.
    const json = stdout.split('\n').find((line) => line.startsWith('[')) ?? '[]';
    for (const group of parseResticJson(json, ForgetOutputSchema, 'forget')) groups.push(groupOf(group, cls, retention));
  }
  return groups;
}
