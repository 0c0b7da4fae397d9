import type { Drive } from '../../../shared/drives.ts';

function rank(drive: Drive): number {
  if (drive.flashable) return 0;
  return drive.isSystem ? 2 : 1;
}

/** Targets first, refused drives after, the system drive last; otherwise the OS's order. */
export function orderDrivesForDisplay(drives: readonly Drive[]): Drive[] {
  return drives
    .map((drive, index) => ({ drive, index }))
    .sort((a, b) => rank(a.drive) - rank(b.drive) || a.index - b.index)
    .map(({ drive }) => drive);
}
