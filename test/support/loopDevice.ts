/**
 * Loop devices over files, for drive tests that need to pull a drive mid-write. This kernel
 * has no scsi_debug, nbd or device-mapper, and `losetup -d` on an open loop device only
 * defers the detach until it is closed, so "pulled" is what a card reader does when its card
 * is taken out: the device node stays, its size drops to 0 and every I/O fails — here the
 * backing file truncated to 0 and `losetup --set-capacity`. Needs root.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, truncateSync } from 'node:fs';

export type LoopDevice = { device: string; backing: string; pull(): void; detach(): void };

/** A loop device over `backing`, created (sparse) at `sizeBytes` if given. */
export function createLoop(backing: string, sizeBytes?: number): LoopDevice {
  if (sizeBytes !== undefined) {
    closeSync(openSync(backing, 'a'));
    truncateSync(backing, sizeBytes);
  }
  const device = execFileSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' }).trim();
  return {
    device,
    backing,
    pull: () => {
      truncateSync(backing, 0);
      execFileSync('losetup', ['--set-capacity', device]);
    },
    detach: () => {
      try {
        execFileSync('losetup', ['--detach', device], { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
    },
  };
}
