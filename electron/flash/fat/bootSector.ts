/**
 * The FAT boot sector (BPB): where the FATs, the root directory and the data clusters are.
 * The FAT type comes from the count of data clusters, as the Microsoft FAT specification
 * defines it (never from the "FAT16   " label, which is only a comment).
 */
import { appError, FieldkitError } from '../../../shared/errors.ts';

export type FatType = 12 | 16 | 32;

export type FatGeometry = {
  type: FatType;
  bytesPerSector: number;
  sectorsPerCluster: number;
  clusterBytes: number;
  reservedSectors: number;
  fatCount: number;
  /** Sectors in one FAT copy. */
  fatSectors: number;
  totalSectors: number;
  /** Bytes of the whole filesystem. */
  volumeBytes: number;
  /** Data clusters; valid cluster numbers are 2 … clusterCount + 1. */
  clusterCount: number;
  /** FAT12/16: the fixed root directory (bytes from the volume start, slot count). */
  rootDirOffset: number;
  rootDirEntries: number;
  /** Bytes from the volume start to cluster 2. */
  dataOffset: number;
  /** FAT32: first cluster of the root directory; 0 on FAT12/16. */
  rootCluster: number;
  /** FAT32: sector of the FSInfo block, or null when there is none. */
  fsInfoSector: number | null;
  /** The FAT copies to write (all of them, unless FAT32 mirroring is off) — the first is read. */
  activeFats: number[];
};

function notFat(name: string, detail: string): FieldkitError {
  return new FieldkitError(appError('BAD_REQUEST', `${name} does not hold a FAT filesystem: ${detail}.`, 'The boot partition must be FAT (vfat); check that the image was written completely, or flash it again.'));
}

const powerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Parses the boot sector `sector` (at least 512 bytes) of the volume called `name` in errors. */
export function parseBootSector(sector: Buffer, name: string): FatGeometry {
  if (sector.length < 512) throw notFat(name, 'the boot sector is short');
  const jump = sector.readUInt8(0);
  if (jump !== 0xeb && jump !== 0xe9) throw notFat(name, 'the boot sector does not start with a jump instruction');
  if (sector.readUInt16LE(510) !== 0xaa55) throw notFat(name, 'the boot sector has no 55AA signature');
  const bytesPerSector = sector.readUInt16LE(11);
  const sectorsPerCluster = sector.readUInt8(13);
  const reservedSectors = sector.readUInt16LE(14);
  const fatCount = sector.readUInt8(16);
  const rootDirEntries = sector.readUInt16LE(17);
  const totalSectors = sector.readUInt16LE(19) !== 0 ? sector.readUInt16LE(19) : sector.readUInt32LE(32);
  const fatSectors = sector.readUInt16LE(22) !== 0 ? sector.readUInt16LE(22) : sector.readUInt32LE(36);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) throw notFat(name, `${bytesPerSector} bytes per sector`);
  if (!powerOfTwo(sectorsPerCluster) || sectorsPerCluster > 128) throw notFat(name, `${sectorsPerCluster} sectors per cluster`);
  if (reservedSectors < 1 || fatCount < 1 || fatCount > 4 || fatSectors < 1 || totalSectors < 1) throw notFat(name, 'the BPB counts are implausible');

  const rootDirSectors = Math.ceil((rootDirEntries * 32) / bytesPerSector);
  const metaSectors = reservedSectors + fatCount * fatSectors + rootDirSectors;
  if (metaSectors >= totalSectors) throw notFat(name, 'the FATs and root directory do not fit in the volume');
  const clusterCount = Math.floor((totalSectors - metaSectors) / sectorsPerCluster);
  const type: FatType = clusterCount < 4085 ? 12 : clusterCount < 65525 ? 16 : 32;
  const fatEntryBits = type === 32 ? 32 : type;
  if (fatSectors * bytesPerSector * 8 < (clusterCount + 2) * fatEntryBits) throw notFat(name, 'the FAT is too small for the cluster count');

  let rootCluster = 0;
  let fsInfoSector: number | null = null;
  let activeFats = Array.from({ length: fatCount }, (_, i) => i);
  if (type === 32) {
    if (rootDirEntries !== 0) throw notFat(name, 'a FAT32 volume with a fixed root directory');
    rootCluster = sector.readUInt32LE(44);
    if (rootCluster < 2 || rootCluster > clusterCount + 1) throw notFat(name, `the root directory cluster ${rootCluster} is out of range`);
    const info = sector.readUInt16LE(48);
    fsInfoSector = info >= 1 && info < reservedSectors ? info : null;
    const extFlags = sector.readUInt16LE(40);
    // Bit 7: mirroring off, only the FAT numbered in bits 0-3 is live.
    if ((extFlags & 0x80) !== 0) {
      const active = extFlags & 0x0f;
      if (active >= fatCount) throw notFat(name, `the active FAT ${active} does not exist`);
      activeFats = [active];
    }
  } else if (rootDirEntries === 0) {
    throw notFat(name, 'a FAT12/16 volume without a root directory');
  }
  return {
    type,
    bytesPerSector,
    sectorsPerCluster,
    clusterBytes: bytesPerSector * sectorsPerCluster,
    reservedSectors,
    fatCount,
    fatSectors,
    totalSectors,
    volumeBytes: totalSectors * bytesPerSector,
    clusterCount,
    rootDirOffset: (reservedSectors + fatCount * fatSectors) * bytesPerSector,
    rootDirEntries,
    dataOffset: metaSectors * bytesPerSector,
    rootCluster,
    fsInfoSector,
    activeFats,
  };
}
