/**
 * One FAT held in memory: read, follow and change cluster chains, and remember which
 * sectors changed so only those are written back (to every FAT copy).
 */
import { appError, FieldkitError } from '../../../shared/errors.ts';
import type { FatType } from './bootSector.ts';

const endOfChainMin: Record<FatType, number> = { 12: 0xff8, 16: 0xfff8, 32: 0x0ffffff8 };
const badCluster: Record<FatType, number> = { 12: 0xff7, 16: 0xfff7, 32: 0x0ffffff7 };
const endOfChain: Record<FatType, number> = { 12: 0xfff, 16: 0xffff, 32: 0x0fffffff };

export function corrupt(name: string, detail: string): FieldkitError {
  return new FieldkitError(appError('IO_ERROR', `The FAT filesystem on ${name} is damaged: ${detail}.`, 'Nothing more was written. Flash the image again; if it happens again, the card may be failing.'));
}

export class FatTable {
  readonly type: FatType;
  readonly bytes: Buffer;
  readonly clusterCount: number;
  readonly endOfChain: number;
  private readonly bytesPerSector: number;
  private readonly name: string;
  private readonly dirty = new Set<number>();

  constructor(type: FatType, bytes: Buffer, clusterCount: number, bytesPerSector: number, name: string) {
    this.type = type;
    this.bytes = bytes;
    this.clusterCount = clusterCount;
    this.bytesPerSector = bytesPerSector;
    this.name = name;
    this.endOfChain = endOfChain[type];
  }

  /** The highest valid cluster number. */
  get maxCluster(): number {
    return this.clusterCount + 1;
  }

  get(cluster: number): number {
    if (this.type === 12) {
      const at = cluster + (cluster >> 1);
      const pair = this.bytes.readUInt16LE(at);
      return (cluster & 1) === 1 ? pair >> 4 : pair & 0xfff;
    }
    if (this.type === 16) return this.bytes.readUInt16LE(cluster * 2);
    return this.bytes.readUInt32LE(cluster * 4) & 0x0fffffff;
  }

  set(cluster: number, value: number): void {
    let at: number;
    let width: number;
    if (this.type === 12) {
      at = cluster + (cluster >> 1);
      width = 2;
      const pair = this.bytes.readUInt16LE(at);
      this.bytes.writeUInt16LE((cluster & 1) === 1 ? (pair & 0x000f) | (value << 4) : (pair & 0xf000) | value, at);
    } else if (this.type === 16) {
      at = cluster * 2;
      width = 2;
      this.bytes.writeUInt16LE(value, at);
    } else {
      at = cluster * 4;
      width = 4;
      // The top four bits are reserved: keep whatever is there.
      this.bytes.writeUInt32LE(((this.bytes.readUInt32LE(at) & 0xf0000000) | value) >>> 0, at);
    }
    this.dirty.add(Math.floor(at / this.bytesPerSector));
    this.dirty.add(Math.floor((at + width - 1) / this.bytesPerSector));
  }

  isFree(cluster: number): boolean {
    return this.get(cluster) === 0;
  }

  /** The clusters of the chain starting at `start`, checked for range and loops. */
  chain(start: number): number[] {
    const clusters: number[] = [];
    let cluster = start;
    for (;;) {
      if (cluster < 2 || cluster > this.maxCluster) throw corrupt(this.name, `a cluster chain points at cluster ${cluster}, outside 2…${this.maxCluster}`);
      if (clusters.length > this.clusterCount) throw corrupt(this.name, `the cluster chain from ${start} loops`);
      clusters.push(cluster);
      const next = this.get(cluster);
      if (next >= endOfChainMin[this.type]) return clusters;
      if (next === badCluster[this.type]) throw corrupt(this.name, `the cluster chain from ${start} runs into a bad cluster`);
      if (next === 0) throw corrupt(this.name, `the cluster chain from ${start} runs into a free cluster`);
      cluster = next;
    }
  }

  /** Every free cluster, lowest first. */
  freeClusters(): number[] {
    const free: number[] = [];
    for (let c = 2; c <= this.maxCluster; c++) if (this.get(c) === 0) free.push(c);
    return free;
  }

  /** Links `clusters` into one chain ending in end-of-chain. */
  link(clusters: readonly number[]): void {
    clusters.forEach((c, i) => {
      this.set(c, clusters[i + 1] ?? this.endOfChain);
    });
  }

  /** Sector indexes (within one FAT) changed since the last call. */
  takeDirtySectors(): number[] {
    const sectors = [...this.dirty].sort((a, b) => a - b);
    this.dirty.clear();
    return sectors;
  }
}
