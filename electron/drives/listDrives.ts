/** The drives attached to this computer, via drivelist, assessed for flashing. */
import { list } from 'drivelist';
import { readFile, realpath } from 'node:fs/promises';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { Drive } from '../../shared/drives.ts';
import { assessDrives, type RawDrive } from './assessDrive.ts';

export type DriveQuery = { dataDir: string; sourcePaths?: readonly string[]; imageSizeBytes?: number | undefined };

/** Lists and assesses drives; one call runs lsblk (Linux), diskutil (macOS) or WMI (Windows). */
export async function listDrives(query: DriveQuery): Promise<Drive[]> {
  const [raw, swapDevices, dataDir, sourcePaths] = await Promise.all([
    listRawDrives(),
    readSwapDevices(),
    realpathOrSelf(query.dataDir),
    Promise.all((query.sourcePaths ?? []).map(realpathOrSelf)),
  ]);
  return assessDrives(raw, { dataDir, sourcePaths, swapDevices, imageSizeBytes: query.imageSizeBytes });
}

/** drivelist's answer, or UNAVAILABLE with what to do. */
export async function listRawDrives(): Promise<RawDrive[]> {
  try {
    return await list();
  } catch (cause) {
    throw new FieldkitError(
      appError(
        'UNAVAILABLE',
        `Cannot list drives: ${cause instanceof Error ? cause.message : String(cause)}`,
        process.platform === 'linux'
          ? 'fieldkit lists drives with lsblk: install util-linux (it is on every standard Linux).'
          : 'Try again; if it repeats, restart the computer.',
      ),
      { cause },
    );
  }
}

/** Devices in /proc/swaps (Linux only; elsewhere swap is not a raw device we could pick). */
export async function readSwapDevices(path = '/proc/swaps'): Promise<string[]> {
  if (process.platform !== 'linux') return [];
  try {
    return parseSwaps(await readFile(path, 'utf8'));
  } catch {
    return [];
  }
}

/** Parses /proc/swaps: a header line, then `Filename Type Size Used Priority`. */
export function parseSwaps(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[1] === 'partition' && cols[0] !== undefined)
    .map((cols) => (cols[0] ?? '').replace(/\\040/g, ' '));
}

async function realpathOrSelf(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}
