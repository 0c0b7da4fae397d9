/**
 * Free clusters of a FAT12/16/32 filesystem, from its boot sector (BPB) and file allocation
 * tables. A cluster counts as free only if every FAT copy says so (a FAT32 with mirroring
 * off, or copies that drifted apart, then keeps the union of what any copy uses). The
 * reserved sectors, the FATs, the FAT12/16 root directory and any sectors past the last
 * whole cluster are never touched. A boot sector that does not add up answers "not
 * recognised" and the partition stays as it is.
 */
import type { ByteRange, FreeSpaceResult, ReadAt } from './byteRanges.ts';

function notRecognised(reason: string): FreeSpaceResult {
  return { filesystem: null, reason };
}

type Geometry = {
  kind: 'fat12' | 'fat16' | 'fat32';
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  fatCount: number;
  fatSectors: number;
  dataStartSector: number;
  clusterCount: number;
  totalSectors: number;
  media: number;
};

/** The boot sector's geometry, or why it is not a FAT filesystem we trust. */
export function fatGeometry(boot: Buffer): Geometry | string {
  if (boot.length < 512 || boot.readUInt16LE(510) !== 0xaa55) return 'no boot sector signature';
  if (boot[0] !== 0xeb && boot[0] !== 0xe9) return 'no x86 jump at the start of the boot sector';
  const bytesPerSector = boot.readUInt16LE(0x0b);
  const sectorsPerCluster = boot.readUInt8(0x0d);
  const reservedSectors = boot.readUInt16LE(0x0e);
  const fatCount = boot.readUInt8(0x10);
  const rootEntries = boot.readUInt16LE(0x11);
  const totalSectors = boot.readUInt16LE(0x13) || boot.readUInt32LE(0x20);
  const media = boot.readUInt8(0x15);
  const fatSectors = boot.readUInt16LE(0x16) || boot.readUInt32LE(0x24);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) return `bytes per sector ${bytesPerSector} is not a FAT value`;
  if (sectorsPerCluster === 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) !== 0) return `sectors per cluster ${sectorsPerCluster} is not a power of two`;
  if (reservedSectors === 0 || fatCount === 0 || fatCount > 4 || fatSectors === 0 || totalSectors === 0) return 'the BPB has zero or implausible counts';
  if (media !== 0xf0 && media < 0xf8) return `media byte 0x${media.toString(16)} is not a FAT value`;
  const rootSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const dataStartSector = reservedSectors + fatCount * fatSectors + rootSectors;
  if (dataStartSector >= totalSectors) return 'the data area starts past the end of the filesystem';
  const clusterCount = Math.floor((totalSectors - dataStartSector) / sectorsPerCluster);
  // The type follows from the cluster count alone (Microsoft's FAT specification).
  const kind = clusterCount < 4085 ? 'fat12' : clusterCount < 65525 ? 'fat16' : 'fat32';
  if (kind === 'fat32' && (rootEntries !== 0 || boot.readUInt16LE(0x16) !== 0)) return 'a FAT32 cluster count with a FAT12/16 root directory';
  const entryBits = kind === 'fat12' ? 12 : kind === 'fat16' ? 16 : 32;
  if (fatSectors * bytesPerSector * 8 < (clusterCount + 2) * entryBits) return 'the FAT is too small for the cluster count';
  return { kind, bytesPerSector, sectorsPerCluster, reservedSectors, fatCount, fatSectors, dataStartSector, clusterCount, totalSectors, media };
}

function fatEntry(fat: Buffer, kind: Geometry['kind'], n: number): number {
  if (kind === 'fat16') return fat.readUInt16LE(n * 2);
  if (kind === 'fat32') return fat.readUInt32LE(n * 4) & 0x0fffffff;
  const pair = fat.readUInt16LE(Math.floor((n * 3) / 2));
  return n % 2 === 0 ? pair & 0xfff : pair >> 4;
}

/** The free clusters of the FAT filesystem at `start` (bytes into the image), `size` bytes long, as absolute byte ranges. */
export async function fatFreeRanges(readAt: ReadAt, start: number, size: number): Promise<FreeSpaceResult> {
  const geometry = fatGeometry(await readAt(start, 512));
  if (typeof geometry === 'string') return notRecognised(geometry);
  const g = geometry;
  if (g.totalSectors * g.bytesPerSector > size) return notRecognised(`the filesystem (${g.totalSectors * g.bytesPerSector} bytes) is larger than its partition (${size} bytes)`);
  const fatBytes = g.fatSectors * g.bytesPerSector;
  const fats: Buffer[] = [];
  for (let i = 0; i < g.fatCount; i++) {
    const fat = await readAt(start + (g.reservedSectors + i * g.fatSectors) * g.bytesPerSector, fatBytes);
    if (fat.length < fatBytes) return notRecognised('a FAT is cut short');
    // FAT[0] repeats the media byte: a cheap check that this really is a FAT.
    if (fat[0] !== g.media) return notRecognised(`FAT ${i + 1} does not start with the media byte`);
    fats.push(fat);
  }
  const clusterBytes = g.sectorsPerCluster * g.bytesPerSector;
  const dataStart = start + g.dataStartSector * g.bytesPerSector;
  const ranges: ByteRange[] = [];
  let freeBytes = 0;
  for (let n = 2; n < g.clusterCount + 2; n++) {
    if (!fats.every((fat) => fatEntry(fat, g.kind, n) === 0)) continue;
    const offset = dataStart + (n - 2) * clusterBytes;
    const last = ranges.at(-1);
    if (last !== undefined && last.offset + last.length === offset) last.length += clusterBytes;
    else ranges.push({ offset, length: clusterBytes });
    freeBytes += clusterBytes;
  }
  return { filesystem: g.kind, ranges, freeBytes };
}
