/**
 * Whether a device × class can be recorded "unchanged since snapshot X" instead of streamed
 * (README.md, "Unchanged classes"). Only when ALL hold:
 * - the device's probe (one `backup-probe` exec for all its classes) gave a token for it;
 * - the last good backup of that device × class carried a token (its stream's manifest), in
 *   the same repository, and the tokens are equal;
 * - that snapshot is still in the repository (not forgotten or pruned since).
 * Anything else — an agent without probes, a probe that failed, a token missing on either
 * side, a forgotten snapshot — streams. Never a guess in favour of skipping.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BackupProbeSchema, type BackupProbe } from '../../shared/backupProbe.ts';
import type { BackupClass } from '../../shared/backupStream.ts';
import type { Link } from '../kernel/link/linkApi.ts';
import type { BackupRunRow } from './backupRunStore.ts';
import type { RepoTarget } from './jobParams.ts';
import { resticRepoFor } from './repositories.ts';
import { listSnapshots } from './restic/resticRepo.ts';

const probeTimeoutMs = 60_000;

/** The device's tokens, or why there are none (then every class streams). */
export async function probeDevice(link: Link, command: string, signal: AbortSignal): Promise<{ probe: BackupProbe } | { why: string }> {
  try {
    const result = await link.exec(command, { timeoutMs: probeTimeoutMs, signal });
    if (result.code !== 0) {
      const said = result.stderr.toString('utf8').trim().split('\n').slice(0, 2).join(' ');
      return { why: /unknown command/i.test(said) ? 'its agent is too old to tell what changed' : `its change probe exited ${String(result.code)}${said === '' ? '' : ` (${said})`}` };
    }
    const parsed = BackupProbeSchema.safeParse(JSON.parse(result.stdout.toString('utf8')));
    return parsed.success ? { probe: parsed.data } : { why: 'its change probe answered something fieldkit does not understand' };
  } catch (error) {
    return { why: `its change probe failed (${error instanceof Error ? error.message : String(error)})` };
  }
}

/**
 * Whether restic still holds `snapshotId`. A repository folder holds each snapshot as
 * `snapshots/<full id>` (restic's repository format), and `restic forget` removes that file,
 * so a folder is answered by looking; any other location (sftp:, rest:) by restic's listing.
 */
export async function snapshotInRepo(target: RepoTarget, password: string, dataDir: string, snapshotId: string, signal: AbortSignal): Promise<boolean> {
  const repo = resticRepoFor(target, password, dataDir);
  if (path.isAbsolute(repo.location) && existsSync(path.join(repo.location, 'config'))) {
    return existsSync(path.join(repo.location, 'snapshots', snapshotId));
  }
  try {
    return (await listSnapshots(repo, {}, signal)).some((s) => s.id === snapshotId);
  } catch {
    return false;
  }
}

export type UnchangedVerdict = { unchanged: true; since: BackupRunRow; token: string } | { unchanged: false; why: string };

/** Decides one class from the probe, its last good backup and the repository it goes to. */
export async function unchangedSince(options: {
  probe: BackupProbe | null;
  backupClass: BackupClass;
  lastGood: BackupRunRow | null;
  target: RepoTarget;
  password: string;
  dataDir: string;
  signal: AbortSignal;
}): Promise<UnchangedVerdict> {
  const { lastGood, target } = options;
  const probed = options.probe?.classes[options.backupClass];
  if (probed === undefined) return { unchanged: false, why: 'not probed' };
  if ('error' in probed) return { unchanged: false, why: `the probe could not read it (${probed.error})` };
  if (lastGood?.snapshotId == null) return { unchanged: false, why: 'no good backup yet' };
  if (lastGood.changeToken === null) return { unchanged: false, why: 'the last backup carries no change token' };
  if (lastGood.repo.location !== target.location || lastGood.repo.kind !== target.kind) return { unchanged: false, why: 'the last backup went to another repository' };
  if (lastGood.changeToken !== probed.token) return { unchanged: false, why: 'changed' };
  if (!(await snapshotInRepo(target, options.password, options.dataDir, lastGood.snapshotId, options.signal))) {
    return { unchanged: false, why: `its last snapshot ${lastGood.snapshotId.slice(0, 8)} is no longer in the repository` };
  }
  return { unchanged: true, since: lastGood, token: probed.token };
}
