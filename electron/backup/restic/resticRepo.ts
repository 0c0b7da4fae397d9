/** Repository-level restic calls: create, list snapshots, resolve an id, and clear our own stale locks. */
import { readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { ResticExitError, runRestic, type ResticRepo } from './resticProcess.ts';
import { parseResticJson, SnapshotListSchema, type SnapshotJson } from './resticJson.ts';

/** Creates the repository; one that already exists is fine when our password opens it. */
export async function initRepo(repo: ResticRepo, signal?: AbortSignal): Promise<'created' | 'existed'> {
  try {
    await runRestic({ repo, args: ['init'], what: 'create the repository', signal });
    return 'created';
  } catch (error) {
    if (!(error instanceof ResticExitError) || !/config file already exists|already initialized/.test(error.failure.stderr)) throw error;
    // Opens it with our password, or fails saying the password is wrong.
    await runRestic({ repo, args: ['cat', 'config'], what: 'open the repository', signal });
    return 'existed';
  }
}

export async function listSnapshots(repo: ResticRepo, filter: { host?: string; tags?: string[] } = {}, signal?: AbortSignal): Promise<SnapshotJson[]> {
  const args = ['snapshots', '--json', '--no-lock'];
  if (filter.host !== undefined) args.push('--host', filter.host);
  for (const tag of filter.tags ?? []) args.push('--tag', tag);
  const { stdout } = await runRestic({ repo, args, what: 'list snapshots', signal });
  return parseResticJson(stdout, SnapshotListSchema, 'snapshots');
}

/** The full 64-digit id of a snapshot from its short id (restic 0.14's backup summary gives the short one). */
export async function fullSnapshotId(repo: ResticRepo, shortId: string, signal?: AbortSignal): Promise<string> {
  // A folder repository names each snapshot file by its full id (restic's repository format):
  // one look in snapshots/ spares a second restic run (its key derivation alone takes ~0.5 s).
  const local = localSnapshotIds(repo).filter((id) => id.startsWith(shortId));
  if (local.length === 1 && local[0] !== undefined) return local[0];
  const { stdout } = await runRestic({ repo, args: ['snapshots', '--json', '--no-lock', shortId], what: 'look up the new snapshot', signal });
  const match = parseResticJson(stdout, SnapshotListSchema, 'snapshots').find((s) => s.id.startsWith(shortId));
  if (match === undefined) throw new FieldkitError(appError('INTERNAL', `restic reported snapshot ${shortId} but does not list it.`, 'Run fieldkit backup verify on this repository.'));
  return match.id;
}

function localSnapshotIds(repo: ResticRepo): string[] {
  if (!path.isAbsolute(repo.location)) return [];
  try {
    return readdirSync(path.join(repo.location, 'snapshots')).filter((name) => /^[0-9a-f]{64}$/.test(name));
  } catch {
    return [];
  }
}

/** The lock restic refused on, when it is one a fieldkit restic on this machine left behind when it died. */
function ownStaleLock(stderr: string): number | null {
  const match = /locked (?:exclusively )?by PID (\d+) on (\S+) by/.exec(stderr);
  if (match === null || match[2] !== hostname()) return null;
  const pid = Number(match[1]);
  try {
    process.kill(pid, 0);
    return null; // alive: a real run holds it
  } catch {
    return pid;
  }
}

/**
 * Runs `fn`; when restic refuses because of a lock that a restic on this machine left when it
 * died (killed app, cut power), removes it with `restic unlock` (which removes only stale
 * locks) and runs `fn` once more. Another machine's lock, or a live one, is never touched:
 * removing a live lock lets two writers damage the repository.
 */
export async function withStaleLockCleared<T>(repo: ResticRepo, fn: () => Promise<T>, log: (message: string) => void): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof ResticExitError) || !/repository is already locked/.test(error.failure.stderr)) throw error;
    const pid = ownStaleLock(error.failure.stderr);
    if (pid === null) throw error;
    log(`Removed a stale lock on ${repo.label} left by a restic run on this laptop that is gone (pid ${pid}).`);
    await runRestic({ repo, args: ['unlock'], what: 'remove a stale lock' });
    return fn();
  }
}
