/** How big a drive is, asked the way that works for it. */
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The device's size in bytes: sysfs for block devices (stat says 0 for them), stat for files. */
export async function deviceSize(device: string): Promise<number> {
  const info = await stat(device);
  if (!info.isBlockDevice()) return info.size;
  try {
    const sectors = await readFile(`/sys/class/block/${path.basename(device)}/size`, 'utf8');
    return Number(sectors.trim()) * 512;
  } catch {
    const { stdout } = await run('blockdev', ['--getsize64', device]);
    return Number(stdout.trim());
  }
}

/** True when the device is gone or no longer the size it had when the flash began (a pulled card reads as 0 bytes). */
export async function driveWentAway(device: string, sizeAtStart: number): Promise<boolean> {
  try {
    return (await deviceSize(device)) !== sizeAtStart;
  } catch {
    return true;
  }
}
