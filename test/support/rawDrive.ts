/** A drive as drivelist reports it: a plain USB card reader unless told otherwise. */
import type { RawDrive } from '../../electron/drives/assessDrive.ts';

export function rawDrive(partial: Partial<RawDrive> & { device: string }): RawDrive {
  return {
    raw: partial.device,
    description: 'Card Reader',
    size: 32e9,
    blockSize: 512,
    busType: 'USB',
    isRemovable: true,
    isSystem: false,
    isReadOnly: false,
    isVirtual: false,
    isUSB: true,
    isCard: true,
    mountpoints: [],
    partitionTableType: 'mbr',
    ...partial,
  };
}
