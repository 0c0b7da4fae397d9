/**
 * Drives with a mounted filesystem, as a technician's laptop has them: ext4 (this test kernel
 * has no vfat module; a card's FAT unmounts the same way), optionally kept busy by a process
 * sitting in it so `umount` says "target is busy". `releaseAll` undoes everything, waiting
 * for the busy process to be gone and retrying `umount` while the kernel still holds the mount.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';

export type MountedDrives = {
  /** mkfs.ext4 (no lazy init: the kernel would keep writing inode tables after mount) and mount at `point`. */
  mount(device: string, point: string, label?: string): void;
  /** A process whose working folder is `point`, so the filesystem cannot be unmounted. */
  holdBusy(point: string): void;
  releaseAll(): Promise<void>;
};

function isMountPoint(point: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === point);
}

export function mountedDrives(): MountedDrives {
  const points: string[] = [];
  const holders: ChildProcess[] = [];
  return {
    mount(device, point, label = 'fktest') {
      execFileSync('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', '-L', label, device], { stdio: 'ignore' });
      mkdirSync(point, { recursive: true });
      execFileSync('mount', ['-t', 'ext4', device, point]);
      points.push(point);
    },
    holdBusy(point) {
      holders.push(spawn('sleep', ['600'], { cwd: point, stdio: 'ignore' }));
    },
    async releaseAll() {
      await Promise.all(
        holders.map(
          (holder) =>
            new Promise((resolve) => {
              if (holder.exitCode !== null || holder.signalCode !== null) resolve(null);
              else holder.once('exit', resolve).kill('SIGKILL');
            }),
        ),
      );
      for (const point of points) {
        for (let attempt = 0; attempt < 50 && isMountPoint(point); attempt++) {
          try {
            execFileSync('umount', [point], { stdio: 'ignore' });
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      }
    },
  };
}
