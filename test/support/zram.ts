/**
 * Real block devices for tests: zram devices appear to drivelist as removable drives.
 * Needs root and the zram module (Linux); `.ci/run` makes sure of both.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const control = '/sys/class/zram-control';

export type ZramDevice = { id: number; device: string; sizeBytes: number; remove(): Promise<void> };

/** Hot-adds a zram device of `sizeBytes` (rounded to pages); remove() takes it away again. */
export function createZram(sizeBytes: number): ZramDevice {
  if (!existsSync(control)) {
    try {
      execFileSync('modprobe', ['zram', 'num_devices=0']);
    } catch {
      throw new Error('zram is not available: load it with `modprobe zram` (as root) — the drive tests need real block devices.');
    }
  }
  const id = Number(readFileSync(`${control}/hot_add`, 'utf8').trim());
  writeFileSync(`/sys/block/zram${id}/disksize`, String(sizeBytes));
  return {
    id,
    device: `/dev/zram${id}`,
    sizeBytes,
    remove: () => removeZram(id),
  };
}

/** Adds a zram device without a size yet: it exists but reports 0 bytes. */
export function addZramId(): number {
  return Number(readFileSync(`${control}/hot_add`, 'utf8').trim());
}

/** Removes zram `id`, retrying while something still holds it open (EBUSY). */
export async function removeZram(id: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(`${control}/hot_remove`, String(id));
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENODEV' || code === 'ENOENT') return;
      if (attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Fills the first `bytes` of a device with random data (so hashes are meaningful). */
export function fillRandom(device: string, bytes: number): void {
  execFileSync('dd', ['if=/dev/urandom', `of=${device}`, 'bs=1M', `count=${Math.ceil(bytes / 1048576)}`, 'oflag=direct', 'status=none']);
}
