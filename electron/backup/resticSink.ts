/**
 * `restic backup --stdin` for one device × class through the repository layer
 * (restic/backupFromStdin.ts), as the backup job's item needs it: a stdin to write the
 * verified bytes to, a kill that leaves no snapshot, and the snapshot's full id once
 * restic reported it. Tags follow the design: fieldkit, device, class, site, agent and
 * image versions (known from the device; the manifest's are in the run's record).
 */
import { PassThrough } from 'node:stream';
import type { BackupClass } from '../../shared/backupStream.ts';
import type { Device } from '../../shared/devices.ts';
import type { ResticSink } from './backupJobItem.ts';
import type { RepoTarget } from './jobParams.ts';
import { resticRepoFor } from './repositories.ts';
import { backupFromStdin } from './restic/backupFromStdin.ts';

export function openResticSink(options: { target: RepoTarget; password: string; device: Device; backupClass: BackupClass; dataDir: string }): ResticSink {
  const { target, device, backupClass } = options;
  const host = device.agentDeviceId ?? device.id;
  // Sized like a pipe: backpressure from restic reaches the device's channel.
  const stdin = new PassThrough({ highWaterMark: 1024 * 1024 });
  const run = backupFromStdin({
    repo: resticRepoFor(target, options.password, options.dataDir),
    stdin,
    filename: `${backupClass}.tar`,
    host,
    tags: ['fieldkit', `device=${host}`, `class=${backupClass}`, `site=${device.site}`, `agent=${device.agentVersion ?? 'unknown'}`],
  });
  return {
    stdin,
    kill: () => {
      run.abort('the stream from the device was not a complete backup');
    },
    done: run.done.then((r) => ({ snapshotId: r.snapshotId, dataAdded: r.stats.bytesAdded, totalBytesProcessed: r.stats.bytesRead })),
  };
}
