/**
 * Reads a disk image's partition table, MBR (primary and logical partitions) or GPT, from
 * its first sectors. Our own small parser rather than `sfdisk` so it runs on macOS and
 * Windows laptops too; the tests hold it against `sfdisk --json`.
 */
import { open } from 'node:fs/promises';
import { appError, FieldkitError } from '../../../shared/errors.ts';

export const sectorSize = 512;

export type TablePartition = {
  /** 1-based, Linux numbering: primaries 1-4, logicals from 5. */
  index: number;
  start: number;
  size: number;
  /** MBR type byte as two hex digits, or the GPT type GUID in lower case. */
  type: string;
  /** The GPT partition name, when there is one. */
  name?: string;
  /** An MBR extended partition: a container for logicals, never written as data. */
  container: boolean;
};
export type PartitionTable = { table: 'mbr' | 'gpt'; partitions: TablePartition[] };

const extendedTypes = new Set([0x05, 0x0f, 0x85]);
const gptProtective = 0xee;

function refuse(name: string, detail: string): FieldkitError {
  return new FieldkitError(appError('BAD_REQUEST', `${name} has no readable partition table: ${detail}.`, 'Give the raw disk image (.img) as it would be written to the card, not a single partition or a compressed file.'));
}

type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/** Formats a GPT GUID: the first three fields are stored little-endian. */
export function formatGuid(b: Buffer): string {
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = Buffer.from(b.subarray(from, to));
    return (reverse ? part.reverse() : part).toString('hex');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

type MbrEntry = { type: number; start: number; sectors: number };

function mbrEntries(sector: Buffer): MbrEntry[] {
  const entries: MbrEntry[] = [];
  for (let i = 0; i < 4; i++) {
    const at = 446 + i * 16;
    entries.push({ type: sector.readUInt8(at + 4), start: sector.readUInt32LE(at + 8), sectors: sector.readUInt32LE(at + 12) });
  }
  return entries;
}

async function readGpt(readAt: ReadAt, name: string): Promise<PartitionTable> {
  const header = await readAt(sectorSize, sectorSize);
  if (header.toString('latin1', 0, 8) !== 'EFI PART') throw refuse(name, 'the MBR is a GPT protective one but there is no GPT header at sector 1');
  const entriesLba = Number(header.readBigUInt64LE(72));
  const count = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  if (entrySize < 128 || count > 1024) throw refuse(name, `the GPT header is implausible (${count} entries of ${entrySize} bytes)`);
  const entries = await readAt(entriesLba * sectorSize, count * entrySize);
  const partitions: TablePartition[] = [];
  for (let i = 0; i < count; i++) {
    const e = entries.subarray(i * entrySize, (i + 1) * entrySize);
    if (e.length < 128 || e.subarray(0, 16).every((b) => b === 0)) continue;
    const first = Number(e.readBigUInt64LE(32));
    const last = Number(e.readBigUInt64LE(40));
    const rawName = e.subarray(56, 128).toString('utf16le');
    const end = rawName.indexOf('\0');
    const label = end === -1 ? rawName : rawName.slice(0, end);
    partitions.push({ index: i + 1, start: first * sectorSize, size: (last - first + 1) * sectorSize, type: formatGuid(e.subarray(0, 16)), container: false, ...(label === '' ? {} : { name: label }) });
  }
  return { table: 'gpt', partitions };
}

async function readLogicals(readAt: ReadAt, extendedStart: number, name: string): Promise<TablePartition[]> {
  const logicals: TablePartition[] = [];
  let ebr = extendedStart;
  // Each EBR holds one logical (relative to itself) and a link to the next (relative to the extended partition).
  for (let n = 0; n < 128; n++) {
    const sector = await readAt(ebr * sectorSize, sectorSize);
    if (sector.readUInt16LE(510) !== 0xaa55) throw refuse(name, `the extended boot record at sector ${ebr} has no signature`);
    const [logical, link] = mbrEntries(sector);
    if (logical !== undefined && logical.type !== 0 && logical.sectors > 0) {
      logicals.push({ index: 5 + logicals.length, start: (ebr + logical.start) * sectorSize, size: logical.sectors * sectorSize, type: logical.type.toString(16).padStart(2, '0'), container: false });
    }
    if (link === undefined || link.type === 0 || link.sectors === 0) return logicals;
    ebr = extendedStart + link.start;
  }
  throw refuse(name, 'the chain of logical partitions does not end');
}

/** Reads the table through `readAt` (so it works on a file, a device or a buffer). */
export async function readPartitionTableWith(readAt: ReadAt, name: string): Promise<PartitionTable> {
  const mbr = await readAt(0, sectorSize);
  if (mbr.length < sectorSize || mbr.readUInt16LE(510) !== 0xaa55) throw refuse(name, 'sector 0 has no 55AA boot signature');
  const entries = mbrEntries(mbr);
  if (entries.some((e) => e.type === gptProtective)) return readGpt(readAt, name);
  const partitions: TablePartition[] = [];
  for (const [i, e] of entries.entries()) {
    if (e.type === 0 || e.sectors === 0) continue;
    const container = extendedTypes.has(e.type);
    partitions.push({ index: i + 1, start: e.start * sectorSize, size: e.sectors * sectorSize, type: e.type.toString(16).padStart(2, '0'), container });
    if (container) partitions.push(...(await readLogicals(readAt, e.start, name)));
  }
  if (partitions.length === 0) throw refuse(name, 'the MBR lists no partitions');
  return { table: 'mbr', partitions: partitions.sort((a, b) => a.index - b.index) };
}

/** Reads the partition table of a raw disk image file. */
export async function readPartitionTable(file: string): Promise<PartitionTable> {
  const handle = await open(file, 'r');
  try {
    return await readPartitionTableWith(async (offset, length) => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    }, file);
  } finally {
    await handle.close();
  }
}
