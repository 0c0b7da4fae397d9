/**
 * Whether a drive may be flashed, and why not, in words a technician can act on. Pure:
 * everything it needs about the machine comes in as `DriveContext`.
 */
import { isAbsolute, relative } from 'node:path';
import type { Drive, DriveNote, DriveRefusal } from '../../shared/drives.ts';
import { formatBytes } from '../../shared/format.ts';

/** What drivelist reports, narrowed to what we use. */
export type RawDrive = {
  device: string;
  raw: string;
  description: string;
  size: number | null;
  blockSize: number;
  busType: string;
  isRemovable: boolean;
  isSystem: boolean;
  isReadOnly: boolean;
  isVirtual: boolean | null;
  isUSB: boolean | null;
  isCard: boolean | null;
  mountpoints: { path: string; label: string | null }[];
  partitionTableType: 'mbr' | 'gpt' | null;
};

export type DriveContext = {
  /** The app's data folder (real path): its drive must never be overwritten. */
  dataDir: string;
  /** Files the technician chose to flash from: their drives are refused too. */
  sourcePaths: readonly string[];
  /** Block devices in use as swap (Linux /proc/swaps): zram swap looks removable. */
  swapDevices: readonly string[];
  imageSizeBytes?: number | undefined;
};

/** Above this, a drive is more likely a backup disk than an SD card: warn. */
export const largeDriveBytes = 256e9;

/** The mountpoint (over all drives) that contains `path`, longest match first. */
export function owningDevice(drives: readonly RawDrive[], path: string): string | null {
  let best: { device: string; length: number } | null = null;
  for (const drive of drives) {
    for (const mount of drive.mountpoints) {
      const rel = relative(mount.path, path);
      const inside = rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
      if (inside && (best === null || mount.path.length > best.length)) {
        best = { device: drive.device, length: mount.path.length };
      }
    }
  }
  return best?.device ?? null;
}

/** Assesses every drive; the list is sorted removable first, then by device path. */
export function assessDrives(raw: readonly RawDrive[], context: DriveContext): Drive[] {
  const appDataDevice = owningDevice(raw, context.dataDir);
  const sourceDevices = new Set(context.sourcePaths.map((p) => owningDevice(raw, p)).filter((d) => d !== null));
  return raw
    .map((drive) => assessDrive(drive, context, { holdsAppData: drive.device === appDataDevice, holdsSource: sourceDevices.has(drive.device) }))
    .sort((a, b) => Number(b.isRemovable) - Number(a.isRemovable) || a.device.localeCompare(b.device));
}

export function assessDrive(drive: RawDrive, context: DriveContext, holds: { holdsAppData: boolean; holdsSource: boolean }): Drive {
  const refusals: DriveRefusal[] = [];
  const warnings: DriveNote[] = [];
  if (drive.isSystem) {
    refusals.push({ code: 'SYSTEM_DRIVE', message: 'System drive: this computer runs from it.' });
  }
  if (context.swapDevices.includes(drive.device) || context.swapDevices.includes(drive.raw)) {
    refusals.push({ code: 'SYSTEM_DRIVE', message: 'In use as swap by this computer.' });
  }
  if (holds.holdsAppData) {
    refusals.push({ code: 'HOLDS_APP_DATA', message: "Holds fieldkit's own data folder." });
  }
  if (holds.holdsSource) {
    refusals.push({ code: 'HOLDS_SOURCE', message: 'Holds the image being flashed.' });
  }
  if (drive.isReadOnly) {
    refusals.push({ code: 'READ_ONLY', message: "Write-protected: slide the SD card's lock switch up, or use another drive." });
  }
  if (drive.size === null) {
    refusals.push({ code: 'UNKNOWN_SIZE', message: 'Reports no size: reinsert it; it may be an empty card reader.' });
  } else if (context.imageSizeBytes !== undefined && drive.size < context.imageSizeBytes) {
    refusals.push({
      code: 'TOO_SMALL',
      message: `Too small: ${formatBytes(drive.size)}, the image needs ${formatBytes(context.imageSizeBytes)}.`,
    });
  }
  if (drive.size !== null && drive.size > largeDriveBytes && refusals.length === 0) {
    warnings.push({ code: 'LARGE', message: `Large drive (${formatBytes(drive.size)}): make sure it is not a backup disk.` });
  }
  if (!drive.isRemovable && !drive.isSystem) {
    warnings.push({ code: 'FIXED', message: 'Not a removable drive: check it is the one you mean.' });
  }
  if (drive.mountpoints.length > 0 && refusals.length === 0) {
    warnings.push({ code: 'MOUNTED', message: `Mounted at ${drive.mountpoints.map((m) => m.path).join(', ')}: flashing unmounts it.` });
  }
  return {
    device: drive.device,
    raw: drive.raw,
    description: drive.description.trim() === '' ? drive.device : drive.description,
    sizeBytes: drive.size,
    blockSize: drive.blockSize,
    busType: drive.busType,
    isRemovable: drive.isRemovable,
    isSystem: drive.isSystem,
    isReadOnly: drive.isReadOnly,
    isVirtual: drive.isVirtual ?? false,
    isUSB: drive.isUSB,
    isCard: drive.isCard,
    mountpoints: drive.mountpoints,
    partitionTableType: drive.partitionTableType,
    flashable: refusals.length === 0,
    refusals,
    warnings,
  };
}
