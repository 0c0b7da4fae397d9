/**
 * `restic backup --stdin` for one device × class, as the backup job's item needs it: its
 * stdin, a kill that leaves no snapshot, and the snapshot's full id once restic reported
 * it. The snapshot carries the tags of the design (device, class, site, agent and image
 * versions) and its password travels in the environment, never argv.
 *
 * On Linux restic is started under `setpriv --pdeathsig KILL`: if the worker that feeds
 * it dies (killed after a cancel's grace, OOM), restic is killed too instead of seeing the
 * end of its input and writing a snapshot of half a stream.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { BackupClass } from '../../shared/backupStream.ts';
import type { Device } from '../../shared/devices.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { RepoTarget } from './jobParams.ts';
import type { ResticSink } from './backupJobItem.ts';

let setprivChecked: boolean | null = null;
function hasSetpriv(): boolean {
  if (process.platform !== 'linux') return false;
  setprivChecked ??= spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;
  return setprivChecked;
}

export function resticBinary(): string {
  return process.env.FIELDKIT_RESTIC ?? 'restic';
}

function resticMissing(error: Error): FieldkitError {
  return new FieldkitError(
    appError('UNAVAILABLE', `restic could not be started (${error.message}).`, 'Install restic (Debian/Ubuntu: sudo apt install restic; macOS: brew install restic) or set FIELDKIT_RESTIC to its path.'),
    { cause: error },
  );
}

/** The full snapshot id for restic 0.14's short one in its summary. */
async function fullSnapshotId(target: RepoTarget, password: string, shortId: string): Promise<string> {
  const child = spawn(resticBinary(), ['-r', target.location, 'snapshots', '--json', '--no-lock', shortId], { env: { ...process.env, RESTIC_PASSWORD: password }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (e) => { reject(resticMissing(e)); });
    child.once('close', resolve);
  });
  const parsed: unknown = code === 0 ? JSON.parse(Buffer.concat(out).toString('utf8')) : null;
  const id = Array.isArray(parsed) ? (parsed[0] as { id?: unknown } | undefined)?.id : undefined;
  if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) {
    throw new FieldkitError(appError('IO_ERROR', `restic wrote snapshot ${shortId} but could not list it: ${Buffer.concat(err).toString('utf8').trim()}`, 'Run `fieldkit backup verify`, then back up again.'));
  }
  return id;
}

export function openResticSink(options: { target: RepoTarget; password: string; device: Device; backupClass: BackupClass }): ResticSink {
  const { target, password, device, backupClass } = options;
  const tags = ['fieldkit', `device=${device.agentDeviceId ?? device.id}`, `class=${backupClass}`, `site=${device.site}`, `agent=${device.agentVersion ?? 'unknown'}`];
  const args = ['-r', target.location, 'backup', '--stdin', '--stdin-filename', `${backupClass}.tar`, '--host', device.agentDeviceId ?? device.id, '--json', ...tags.flatMap((t) => ['--tag', t])];
  const [command, argv] = hasSetpriv() ? ['setpriv', ['--pdeathsig', 'KILL', '--', resticBinary(), ...args]] : [resticBinary(), args];
  const child = spawn(command, argv, { env: { ...process.env, RESTIC_PASSWORD: password }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString('utf8')).slice(-4000);
  });
  let summary: { snapshot_id?: string; data_added?: number; total_bytes_processed?: number } | null = null;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.includes('"summary"')) return;
    try {
      summary = JSON.parse(line) as typeof summary;
    } catch {
      // a status line cut by the terminal width: not the summary
    }
  });
  let killed = false;
  const done = new Promise<{ snapshotId: string; dataAdded: number; totalBytesProcessed: number }>((resolve, reject) => {
    child.once('error', (e) => { reject(resticMissing(e)); });
    child.once('close', (code) => {
      const s = summary;
      if (killed) {
        reject(new FieldkitError(appError('CANCELLED', 'restic was stopped before it wrote a snapshot.', 'Run the backup again.')));
      } else if (code !== 0 || s === null || typeof s.snapshot_id !== 'string') {
        reject(new FieldkitError(appError('IO_ERROR', `restic backup into ${target.location} failed (exit ${String(code)}): ${stderr.trim().split('\n').slice(-3).join(' ')}`, 'Check the repository (fieldkit backup verify) and free space, then back up again.')));
      } else {
        fullSnapshotId(target, password, s.snapshot_id).then((snapshotId) => { resolve({ snapshotId, dataAdded: s.data_added ?? 0, totalBytesProcessed: s.total_bytes_processed ?? 0 }); }, reject);
      }
    });
  });
  return {
    stdin: child.stdin,
    kill: () => {
      killed = true;
      child.kill('SIGKILL');
    },
    done,
  };
}
