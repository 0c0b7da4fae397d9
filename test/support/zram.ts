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

/**
 * Removes every device, each retried once more after a pause when it is still held (a helper
 * or a disk prober letting go under load); rejects with the first that stays busy.
 */
export async function removeZrams(devices: readonly ZramDevice[]): Promise<void> {
  let removed = await Promise.allSettled(devices.map((d) => d.remove()));
  const held = devices.filter((_, i) => removed[i]?.status === 'rejected');
  if (held.length === 0) return;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  removed = await Promise.allSettled(held.map((d) => d.remove()));
  const failed = removed.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
