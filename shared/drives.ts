/** Drives as the technician sees them: what is plugged in and whether it may be flashed. */
import { z } from 'zod';

export const DriveRefusalCodeSchema = z.enum([
  'SYSTEM_DRIVE',
  'READ_ONLY',
  'HOLDS_APP_DATA',
  'HOLDS_SOURCE',
  'TOO_SMALL',
  'UNKNOWN_SIZE',
]);
export type DriveRefusalCode = z.infer<typeof DriveRefusalCodeSchema>;

export const DriveNoteSchema = z.object({
  code: z.string(),
  message: z.string(),
});
export type DriveNote = z.infer<typeof DriveNoteSchema>;

export const DriveRefusalSchema = DriveNoteSchema.extend({ code: DriveRefusalCodeSchema });
export type DriveRefusal = z.infer<typeof DriveRefusalSchema>;

export const MountpointSchema = z.object({
  path: z.string(),
  label: z.string().nullable(),
});

export const DriveSchema = z.object({
  /** Device path as the OS names it: /dev/sdb, /dev/disk4, \\.\PhysicalDrive2. */
  device: z.string(),
  /** Path used for raw I/O (differs from `device` on macOS: /dev/rdisk4). */
  raw: z.string(),
  description: z.string(),
  sizeBytes: z.number().int().nonnegative().nullable(),
  blockSize: z.number().int().positive(),
  busType: z.string(),
  isRemovable: z.boolean(),
  isSystem: z.boolean(),
  isReadOnly: z.boolean(),
  isVirtual: z.boolean(),
  isUSB: z.boolean().nullable(),
  isCard: z.boolean().nullable(),
  mountpoints: z.array(MountpointSchema),
  partitionTableType: z.enum(['mbr', 'gpt']).nullable(),
  /** False when any refusal applies; the UI never offers such a drive as a target. */
  flashable: z.boolean(),
  refusals: z.array(DriveRefusalSchema),
  /** Reasons to look twice that do not forbid flashing (a very large drive, say). */
  warnings: z.array(DriveNoteSchema),
});
export type Drive = z.infer<typeof DriveSchema>;

export const ReadCheckResultSchema = z.object({
  device: z.string(),
  bytesRead: z.number().int().nonnegative(),
  sizeBytes: z.number().int().nonnegative(),
  sha256: z.string().nullable(),
  seconds: z.number().nonnegative(),
  averageBytesPerSecond: z.number().nonnegative(),
  /** Regions that returned an I/O error; the check skips past them and goes on. */
  badRegions: z.array(
    z.object({ offset: z.number().int().nonnegative(), length: z.number().int().positive(), code: z.string() }),
  ),
});
export type ReadCheckResult = z.infer<typeof ReadCheckResultSchema>;

/**
 * A drive's model name, or null when it has none: virtual and some USB devices report no
 * model, and the service then fills the description with the device path, which must not be
 * shown twice ("/dev/zram0 (/dev/zram0)").
 */
export function driveModel(drive: { device: string; description: string }): string | null {
  const description = drive.description.trim();
  return description === '' || description === drive.device ? null : description;
}

/** "/dev/sdb (SanDisk Ultra)", or just "/dev/zram0" when the drive has no model name. */
export function driveLabel(drive: { device: string; description: string }): string {
  const model = driveModel(drive);
  return model === null ? drive.device : `${drive.device} (${model})`;
}
