/**
 * A FAT12/16/32 volume read and written in place, without mounting: list, read and create
 * or replace files in the root directory. Every write is planned in full (names, directory
 * slots, clusters) before the first byte changes, so a file that does not fit is refused
 * with the volume untouched. Then: the data into free clusters, the new chain into every
 * FAT copy, the directory entries, the old chain freed, FSInfo brought up to date — so a
 * write interrupted half-way leaves at worst lost clusters, never a file pointing at
 * someone else's data.
 */
import { appError, FieldkitError } from '../../../shared/errors.ts';
import type { BlockIo } from './blockIo.ts';
import { parseBootSector, type FatGeometry } from './bootSector.ts';
import { attrDirectory, deletedMark, parseDirectory, shortEntry, slotBytes, type DirEntry } from './directory.ts';
import { corrupt, FatTable } from './fatTable.ts';
import { checkLongName, displayShortName, entryNames, sameName } from './names.ts';

export type FatFileInfo = { name: string; shortName: string; size: number; directory: boolean };

type RootDirectory = { bytes: Buffer; clusters: number[]; slotOffset: (slot: number) => number };

const fsInfoLead = 0x41615252;
const fsInfoStruct = 0x61417272;
const fsInfoTrail = 0xaa550000;

function findRun(free: readonly boolean[], length: number): number {
  let run = 0;
  for (let i = 0; i < free.length; i++) {
    run = free[i] === true ? run + 1 : 0;
    if (run === length) return i - length + 1;
  }
  return -1;
}

/** Consecutive runs of clusters, so contiguous files are read and written in one call each. */
function runs(clusters: readonly number[]): { first: number; count: number; index: number }[] {
  const out: { first: number; count: number; index: number }[] = [];
  clusters.forEach((c, index) => {
    const last = out[out.length - 1];
    if (last !== undefined && last.first + last.count === c) last.count++;
    else out.push({ first: c, count: 1, index });
  });
  return out;
}

export class FatVolume {
  readonly geometry: FatGeometry;
  private readonly io: BlockIo;
  private readonly offset: number;
  readonly name: string;

  private constructor(io: BlockIo, offset: number, geometry: FatGeometry, name: string) {
    this.io = io;
    this.offset = offset;
    this.geometry = geometry;
    this.name = name;
  }

  /**
   * Opens the FAT volume that starts `offset` bytes into `io`; `size` (the partition's)
   * refuses a filesystem that claims to be larger than its partition.
   */
  static async open(io: BlockIo, options: { offset?: number; size?: number; name?: string } = {}): Promise<FatVolume> {
    const offset = options.offset ?? 0;
    const name = options.name ?? 'the volume';
    const geometry = parseBootSector(await io.read(offset, 512), name);
    if (options.size !== undefined && geometry.volumeBytes > options.size) {
      throw new FieldkitError(appError('BAD_REQUEST', `The FAT filesystem on ${name} claims ${geometry.volumeBytes} bytes, more than its ${options.size}-byte partition.`, 'The partition table and the filesystem disagree; flash the image again.'));
    }
    return new FatVolume(io, offset, geometry, name);
  }

  private clusterOffset(cluster: number): number {
    return this.offset + this.geometry.dataOffset + (cluster - 2) * this.geometry.clusterBytes;
  }

  private fatOffset(copy: number): number {
    const g = this.geometry;
    return this.offset + (g.reservedSectors + copy * g.fatSectors) * g.bytesPerSector;
  }

  private async readFat(): Promise<FatTable> {
    const g = this.geometry;
    const first = g.activeFats[0] ?? 0;
    const bytes = await this.io.read(this.fatOffset(first), g.fatSectors * g.bytesPerSector);
    return new FatTable(g.type, bytes, g.clusterCount, g.bytesPerSector, this.name);
  }

  private async writeFatSectors(fat: FatTable): Promise<void> {
    const g = this.geometry;
    const sectors = fat.takeDirtySectors();
    for (const copy of g.activeFats) {
      for (const sector of sectors) {
        const at = sector * g.bytesPerSector;
        await this.io.write(this.fatOffset(copy) + at, fat.bytes.subarray(at, at + g.bytesPerSector));
      }
    }
  }

  private async readClusters(clusters: readonly number[]): Promise<Buffer> {
    const size = this.geometry.clusterBytes;
    const out = Buffer.alloc(clusters.length * size);
    for (const run of runs(clusters)) (await this.io.read(this.clusterOffset(run.first), run.count * size)).copy(out, run.index * size);
    return out;
  }

  private async readRoot(fat: FatTable): Promise<RootDirectory> {
    const g = this.geometry;
    if (g.type !== 32) {
      const start = this.offset + g.rootDirOffset;
      return { bytes: await this.io.read(start, g.rootDirEntries * slotBytes), clusters: [], slotOffset: (slot) => start + slot * slotBytes };
    }
    const clusters = fat.chain(g.rootCluster);
    const perCluster = g.clusterBytes / slotBytes;
    return {
      bytes: await this.readClusters(clusters),
      clusters,
      slotOffset: (slot) => this.clusterOffset(clusters[Math.floor(slot / perCluster)] ?? 0) + (slot % perCluster) * slotBytes,
    };
  }

  private find(entries: readonly DirEntry[], name: string): DirEntry | undefined {
    return entries.find((e) => sameName(e.name, name) || sameName(displayShortName(e.short, e.caseFlags), name));
  }

  /** The files and folders in the root directory. */
  async list(): Promise<FatFileInfo[]> {
    const fat = await this.readFat();
    const { entries } = parseDirectory((await this.readRoot(fat)).bytes, this.geometry.type === 32);
    return entries.map((e) => ({ name: e.name, shortName: displayShortName(e.short, 0), size: e.size, directory: (e.attr & attrDirectory) !== 0 }));
  }

  /** Bytes in free clusters. */
  async freeBytes(): Promise<number> {
    return (await this.readFat()).freeClusters().length * this.geometry.clusterBytes;
  }

  /**
   * Whether `files` (created or replacing files of the same names) fit in the free clusters
   * together: checked before a set of files is written, so a set is not left half-written
   * for want of space. Returns the shortfall in bytes (0 when they fit).
   */
  async shortfallFor(files: readonly { name: string; bytes: number }[]): Promise<number> {
    const fat = await this.readFat();
    const { entries } = parseDirectory((await this.readRoot(fat)).bytes, this.geometry.type === 32);
    const clusters = (bytes: number): number => Math.ceil(bytes / this.geometry.clusterBytes);
    const needed = files.reduce((sum, f) => sum + clusters(f.bytes) - clusters(this.find(entries, f.name)?.size ?? 0), 0);
    return Math.max(0, needed - fat.freeClusters().length) * this.geometry.clusterBytes;
  }

  /** The contents of root-directory file `name` (any case), or null when there is none. */
  async readFile(name: string): Promise<Buffer | null> {
    const fat = await this.readFat();
    const entry = this.find(parseDirectory((await this.readRoot(fat)).bytes, this.geometry.type === 32).entries, name);
    if (entry === undefined) return null;
    if ((entry.attr & attrDirectory) !== 0) throw new FieldkitError(appError('CONFLICT', `${name} on ${this.name} is a folder, not a file.`, 'Rename or remove that folder on the card.'));
    if (entry.size === 0) return Buffer.alloc(0);
    const chain = fat.chain(entry.firstCluster);
    const needed = Math.ceil(entry.size / this.geometry.clusterBytes);
    if (chain.length < needed) throw corrupt(this.name, `${name} is ${entry.size} bytes but its cluster chain holds only ${chain.length} clusters`);
    return (await this.readClusters(chain.slice(0, needed))).subarray(0, entry.size);
  }

  /** Creates root-directory file `name` holding `data`, or replaces the file of that name (any case). */
  async writeFile(name: string, data: Buffer, options: { when?: Date } = {}): Promise<void> {
    checkLongName(name);
    const g = this.geometry;
    if (data.length > 0xffffffff) throw new FieldkitError(appError('BAD_REQUEST', `${name} is larger than a FAT file can be (4 GiB).`, 'Write a smaller file.'));
    const when = options.when ?? new Date();
    const fat = await this.readFat();
    const root = await this.readRoot(fat);
    const dir = parseDirectory(root.bytes, g.type === 32);
    const existing = this.find(dir.entries, name);
    if (existing !== undefined && (existing.attr & attrDirectory) !== 0) {
      throw new FieldkitError(appError('CONFLICT', `${name} on ${this.name} is a folder; a file of that name cannot be written.`, 'Rename or remove that folder on the card, then try again.'));
    }
    // Checks the old chain before anything is written: a damaged one is refused, not followed.
    const oldChain = existing !== undefined && existing.firstCluster >= 2 ? fat.chain(existing.firstCluster) : [];

    // Names: the replaced file's own short alias is kept.
    const taken = new Set(dir.shortNames);
    if (existing !== undefined) taken.delete(existing.short.toString('latin1'));
    const { short, caseFlags, longSlots } = entryNames(name, taken, existing !== undefined && existing.slots.length > 1 ? existing.short : null);
    const slotsNeeded = longSlots.length + 1;

    // Directory slots: the replaced file's slots count as free.
    const free = [...dir.free];
    for (const slot of existing?.slots ?? []) free[slot] = true;
    let at = findRun(free, slotsNeeded);
    let dirClustersNeeded = 0;
    if (at === -1) {
      if (g.type !== 32) {
        throw new FieldkitError(appError('IO_ERROR', `The root directory of ${this.name} is full (${g.rootDirEntries} entries): there is no room for ${name}.`, 'Remove files from the root of the boot partition, or use an image whose boot partition has room; nothing was written.'));
      }
      let trailing = 0;
      while (trailing < free.length && free[free.length - 1 - trailing] === true) trailing++;
      const perCluster = g.clusterBytes / slotBytes;
      dirClustersNeeded = Math.ceil((slotsNeeded - trailing) / perCluster);
      at = free.length - trailing;
    }

    // Clusters: free ones first, so the old contents stay intact unless space is that short.
    const dataClustersNeeded = Math.ceil(data.length / g.clusterBytes);
    const freeClusters = fat.freeClusters();
    const pool = [...freeClusters, ...oldChain];
    if (dataClustersNeeded + dirClustersNeeded > pool.length) {
      const freeBytes = (freeClusters.length + oldChain.length) * g.clusterBytes;
      throw new FieldkitError(
        appError(
          'IO_ERROR',
          `Disk full: ${name} (${data.length} bytes) does not fit on ${this.name}; ${freeBytes} bytes are free${dirClustersNeeded > 0 ? ' and the root directory must grow' : ''}.`,
          'Free space on the boot partition or use an image with a larger one; nothing was written.',
        ),
      );
    }
    const dirClusters = pool.slice(0, dirClustersNeeded);
    const dataClusters = pool.slice(dirClustersNeeded, dirClustersNeeded + dataClustersNeeded);

    // 1. Data, whole clusters (the tail of the last one zeroed).
    for (const run of runs(dataClusters)) {
      const chunk = Buffer.alloc(run.count * g.clusterBytes);
      data.copy(chunk, 0, run.index * g.clusterBytes, Math.min(data.length, (run.index + run.count) * g.clusterBytes));
      await this.io.write(this.clusterOffset(run.first), chunk);
    }
    // 2. New directory clusters, zeroed (all slots "end of directory").
    for (const cluster of dirClusters) await this.io.write(this.clusterOffset(cluster), Buffer.alloc(g.clusterBytes));
    // 3. The new chains into every FAT.
    fat.link(dataClusters);
    const lastRootCluster = root.clusters[root.clusters.length - 1];
    if (dirClusters.length > 0 && lastRootCluster !== undefined) {
      fat.link(dirClusters);
      fat.set(lastRootCluster, dirClusters[0] ?? fat.endOfChain);
    }
    await this.writeFatSectors(fat);
    // 4. Directory entries: the old ones marked deleted, the new ones in place.
    const perCluster = g.clusterBytes / slotBytes;
    const allRootClusters = [...root.clusters, ...dirClusters];
    const slotOffset = (slot: number): number =>
      g.type === 32 ? this.clusterOffset(allRootClusters[Math.floor(slot / perCluster)] ?? 0) + (slot % perCluster) * slotBytes : root.slotOffset(slot);
    const writes = new Map<number, Buffer>();
    for (const slot of existing?.slots ?? []) {
      const old = Buffer.from(root.bytes.subarray(slot * slotBytes, (slot + 1) * slotBytes));
      old.writeUInt8(deletedMark, 0);
      writes.set(slot, old);
    }
    const newSlots = [...longSlots, shortEntry({ short, caseFlags, firstCluster: dataClusters[0] ?? 0, size: data.length, when })];
    newSlots.forEach((slot, i) => writes.set(at + i, slot));
    // Past the end marker, slots may hold stale bytes (everything after a 0x00 is free);
    // keep the directory ending right after the new entry so none of them comes back to life.
    const after = at + newSlots.length;
    if (after >= dir.end && after < root.bytes.length / slotBytes && root.bytes[after * slotBytes] !== 0) writes.set(after, Buffer.alloc(slotBytes));
    for (const [slot, bytes] of [...writes.entries()].sort((a, b) => a[0] - b[0])) await this.io.write(slotOffset(slot), bytes);
    // 5. The old chain, less what the new file reused, back to free.
    const reused = new Set([...dataClusters, ...dirClusters]);
    for (const cluster of oldChain) if (!reused.has(cluster)) fat.set(cluster, 0);
    await this.writeFatSectors(fat);
    // 6. FSInfo: the true free count, and a next-free hint after what was just allocated.
    const lastAllocated = Math.max(0, ...dataClusters, ...dirClusters);
    await this.updateFsInfo(fat, lastAllocated);
  }

  private async updateFsInfo(fat: FatTable, lastAllocated: number): Promise<void> {
    const g = this.geometry;
    if (g.fsInfoSector === null) return;
    const at = this.offset + g.fsInfoSector * g.bytesPerSector;
    const sector = await this.io.read(at, 512);
    // An FSInfo block without its signatures is not trusted by anyone; leave it alone.
    if (sector.readUInt32LE(0) !== fsInfoLead || sector.readUInt32LE(484) !== fsInfoStruct || sector.readUInt32LE(508) !== fsInfoTrail) return;
    sector.writeUInt32LE(fat.freeClusters().length, 488);
    if (lastAllocated >= 2) sector.writeUInt32LE(lastAllocated + 1 <= fat.maxCluster ? lastAllocated + 1 : 0xffffffff, 492);
    await this.io.write(at, sector);
  }
}
