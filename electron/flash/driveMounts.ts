/**
 * Unmounting a drive before it is flashed and ejecting it afterwards, each OS its own way:
 * Linux reads /proc/self/mountinfo and sysfs and runs `umount` per mounted partition (the
 * whole disk too: a card formatted without a partition table mounts as the disk itself);
 * macOS `diskutil unmountDisk force` / `diskutil eject`; Windows dismounts every volume of
 * the disk with `mountvol X: /p` and takes the disk offline to eject it. Runs in the flash
 * helper, with the rights raw writes need.
 */
import { execFile } from 'node:child_process';
import { access, constants, open, readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { appError, FieldkitError } from '../../shared/errors.ts';

const run = promisify(execFile);

function unmountFailure(device: string, where: string, cause: unknown): FieldkitError {
  const detail = cause instanceof Error ? ((cause as { stderr?: string }).stderr?.trim() ?? cause.message) : String(cause);
  return new FieldkitError(
    appError('CONFLICT', `${device} could not be unmounted (${where}): ${detail || 'busy'}.`, 'Close every window and program using the drive (file browser, terminal cd\'d into it), then flash again.'),
  );
}

/** One line of /proc/self/mountinfo: the mounted device's major:minor and where it is mounted. */
export type MountEntry = { majorMinor: string; mountPoint: string };

/** Parses /proc/self/mountinfo (fields: id parent major:minor root mountpoint …; spaces escaped as \040). */
export function parseMountInfo(text: string): MountEntry[] {
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((cols) => cols.length > 4)
    .map((cols) => ({ majorMinor: cols[2] ?? '', mountPoint: (cols[4] ?? '').replace(/\\(\d{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))) }));
}

/** major:minor of a block device and of each of its partitions, from sysfs. */
async function linuxDeviceNumbers(device: string): Promise<Set<string>> {
  const name = path.basename(await realpath(device));
  const base = `/sys/class/block/${name}`;
  const numbers = new Set<string>([(await readFile(`${base}/dev`, 'utf8')).trim()]);
  for (const entry of await readdir(base)) {
    if (!entry.startsWith(name)) continue;
    const dev = await readFile(`${base}/${entry}/dev`, 'utf8').catch(() => null);
    if (dev !== null) numbers.add(dev.trim());
  }
  return numbers;
}

/** Mount points of the drive and its partitions, deepest first (a mount inside another comes off first). */
export async function linuxMountPoints(device: string, mountInfo = '/proc/self/mountinfo'): Promise<string[]> {
  const numbers = await linuxDeviceNumbers(device);
  const entries = parseMountInfo(await readFile(mountInfo, 'utf8'));
  return entries
    .filter((e) => numbers.has(e.majorMinor))
    .map((e) => e.mountPoint)
    .sort((a, b) => b.length - a.length);
}

/**
 * After `umount` returns, the kernel may hold the device a moment longer while the last
 * reference to the filesystem goes (seen under load: the writer's O_EXCL open got EBUSY).
 * Waits, up to 3 s, until an exclusive open succeeds; the writer reports it if it never does.
 */
async function waitUntilReleased(device: string): Promise<void> {
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      const handle = await open(device, constants.O_RDONLY | constants.O_EXCL);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY') return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** The disk number of `\\.\PhysicalDriveN`. */
function windowsDiskNumber(device: string): number {
  const match = /PhysicalDrive(\d+)$/i.exec(device);
  if (match?.[1] === undefined) throw new FieldkitError(appError('BAD_REQUEST', `${device} is not a Windows physical drive (\\\\.\\PhysicalDriveN).`, 'Pick the drive from the drive list.'));
  return Number(match[1]);
}

async function powershell(script: string): Promise<string> {
  const { stdout } = await run('powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', script]);
  return stdout;
}

/**
 * Unmounts every mounted partition of `device` (and the disk itself); resolves with the
 * mount points it took away. Throws CONFLICT naming the drive when one stays mounted.
 */
export async function unmountDrive(device: string): Promise<string[]> {
  if (process.platform === 'linux') {
    const points = await linuxMountPoints(device);
    for (const point of points) {
      try {
        await run('umount', [point]);
      } catch (cause) {
        throw unmountFailure(device, point, cause);
      }
    }
    const left = await linuxMountPoints(device);
    if (left.length > 0) throw unmountFailure(device, left.join(', '), new Error('still mounted'));
    if (points.length > 0) await waitUntilReleased(device);
    return points;
  }
  if (process.platform === 'darwin') {
    try {
      await run('diskutil', ['unmountDisk', 'force', device]);
    } catch (cause) {
      throw unmountFailure(device, 'diskutil unmountDisk', cause);
    }
    return [device];
  }
  if (process.platform === 'win32') {
    const disk = windowsDiskNumber(device);
    try {
      const out = await powershell(
        `Get-Partition -DiskNumber ${disk} | Where-Object { $_.DriveLetter } | ForEach-Object { $l = "$($_.DriveLetter):"; mountvol $l /p; if ($LASTEXITCODE -ne 0) { throw "mountvol $l /p failed" }; $l }`,
      );
      return out.split(/\r?\n/).filter((l) => l.trim() !== '');
    } catch (cause) {
      throw unmountFailure(device, 'mountvol /p', cause);
    }
  }
  return [];
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    try {
      await access(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/**
 * Makes the drive safe to pull: flushed, and ejected or powered off where the OS can.
 * Resolves true when it was ejected, false when it was only flushed (no eject tool, or a
 * device that cannot be ejected, such as a virtual one); the caller says "remove it now".
 */
export async function ejectDrive(device: string): Promise<boolean> {
  if (process.platform === 'linux') {
    await run('blockdev', ['--flushbufs', device]).catch(() => undefined);
    if (await onPath('eject')) {
      if (await run('eject', [device]).then(() => true, () => false)) return true;
    }
    if (await onPath('udisksctl')) {
      if (await run('udisksctl', ['power-off', '--no-user-interaction', '-b', device]).then(() => true, () => false)) return true;
    }
    return false;
  }
  if (process.platform === 'darwin') return run('diskutil', ['eject', device]).then(() => true, () => false);
  if (process.platform === 'win32') {
    const disk = windowsDiskNumber(device);
    return powershell(`Set-Disk -Number ${disk} -IsOffline $true`).then(() => true, () => false);
  }
  return false;
}
