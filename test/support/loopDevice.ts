/**
 * Loop devices over files, for drive tests that need to pull a drive mid-write. This kernel
 * has no scsi_debug, nbd or device-mapper, and `losetup -d` on an open loop device only
 * defers the detach until it is closed, so "pulled" is what a card reader does when its card
 * is taken out: the device node stays, its size drops to 0 and every I/O fails — here the
 * backing file truncated to 0 and `losetup --set-capacity`. Needs root (and the zram
 * module for createFreezableLoop).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { createZram } from './zram.ts';

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

export type FreezableLoop = LoopDevice & { freeze(): void; thaw(): void; remove(): Promise<void> };

/**
 * A loop device that can stop answering: its backing file sits on an ext4 (on zram) and the
 * loop does direct I/O into it, so `fsfreeze` blocks every write to the device inside the
 * kernel until thawed — as a wedged USB reader does. For testing stall detection and cancel.
 */
export function createFreezableLoop(dir: string, sizeBytes: number): FreezableLoop {
  const disk = createZram(sizeBytes + 64 * 1024 * 1024);
  execFileSync('mkfs.ext4', ['-q', disk.device]);
  const mountPoint = path.join(dir, `freezable-${disk.id}`);
  mkdirSync(mountPoint, { recursive: true });
  execFileSync('mount', [disk.device, mountPoint]);
  const backing = path.join(mountPoint, 'card.bin');
  closeSync(openSync(backing, 'w'));
  truncateSync(backing, sizeBytes);
  const device = execFileSync('losetup', ['--find', '--show', '--direct-io=on', backing], { encoding: 'utf8' }).trim();
  let frozen = false;
  const thaw = (): void => {
    if (!frozen) return;
    execFileSync('fsfreeze', ['--unfreeze', mountPoint]);
    frozen = false;
  };
  const loop: FreezableLoop = {
    device,
    backing,
    pull: () => {
      truncateSync(backing, 0);
      execFileSync('losetup', ['--set-capacity', device]);
    },
    detach: () => {
      thaw();
      try {
        execFileSync('losetup', ['--detach', device], { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
    },
    freeze: () => {
      execFileSync('fsfreeze', ['--freeze', mountPoint]);
      frozen = true;
    },
    thaw,
    remove: async () => {
      loop.detach();
      // The loop lets go of its backing file asynchronously once detached.
      for (let attempt = 0; ; attempt++) {
        try {
          execFileSync('umount', [mountPoint], { stdio: 'ignore' });
          break;
        } catch (error) {
          if (attempt >= 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await disk.remove();
    },
  };
  return loop;
}
