/**
 * A slow drive for tests, made real with the kernel's block I/O throttle (cgroup v1 blkio):
 * writes to one device from this process and every process it starts afterwards (the job
 * worker, the flash helper) are held to `bytesPerSec`; other devices are not affected. Lets a
 * test cancel or cut off a flash mid-write without racing a 500 MB/s zram.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const blkio = '/sys/fs/cgroup/blkio';

export type Throttle = { release(): Promise<void> };

/**
 * Throttles writes to `device` by this process and its future children; reads too when
 * `readBytesPerSec` is given (a flash's read-back then lasts long enough to watch).
 */
export function throttleWrites(device: string, bytesPerSec: number, readBytesPerSec?: number): Throttle {
  if (!existsSync(path.join(blkio, 'blkio.throttle.write_bps_device'))) {
    throw new Error('the blkio cgroup (v1) is not mounted at /sys/fs/cgroup/blkio: the slow-drive tests need it (and root).');
  }
  const majorMinor = readFileSync(`/sys/class/block/${path.basename(device)}/dev`, 'utf8').trim();
  const group = path.join(blkio, `fieldkit-test-${process.pid}-${path.basename(device)}`);
  mkdirSync(group, { recursive: true });
  writeFileSync(path.join(group, 'blkio.throttle.write_bps_device'), `${majorMinor} ${bytesPerSec}`);
  if (readBytesPerSec !== undefined) writeFileSync(path.join(group, 'blkio.throttle.read_bps_device'), `${majorMinor} ${readBytesPerSec}`);
  writeFileSync(path.join(group, 'cgroup.procs'), String(process.pid));
  return {
    async release() {
      // Every process still in the group (this one, a lingering worker) goes back to the root group.
      for (let attempt = 0; attempt < 50; attempt++) {
        const pids = readFileSync(path.join(group, 'cgroup.procs'), 'utf8').split('\n').filter((p) => p.trim() !== '');
        for (const pid of pids) {
          try {
            writeFileSync(path.join(blkio, 'cgroup.procs'), pid);
          } catch {
            // it exited meanwhile
          }
        }
        try {
          rmdirSync(group);
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
  };
}
