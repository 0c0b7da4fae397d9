/**
 * Directory entries (32-byte slots): a file is zero or more long-name slots followed by its
 * short entry. Long names are taken only when their sequence and checksum hold, as
 * Windows and Linux do; orphaned long-name slots are ignored.
 */
import { displayShortName, lfnCharOffsets, lfnChecksum, type ShortName } from './names.ts';

export const slotBytes = 32;
export const attrReadOnly = 0x01;
export const attrVolumeLabel = 0x08;
export const attrDirectory = 0x10;
export const attrArchive = 0x20;
const attrLongName = 0x0f;
export const deletedMark = 0xe5;

export type DirEntry = {
  /** The long name, or the short one as displayed. */
  name: string;
  short: ShortName;
  caseFlags: number;
  attr: number;
  firstCluster: number;
  size: number;
  /** Slot indexes this file occupies (long-name slots, then the short entry). */
  slots: number[];
};

export type ParsedDirectory = {
  entries: DirEntry[];
  /** Slots that may take a new entry (deleted, or at/after the end marker). */
  free: boolean[];
  /** Every short name in use (latin1 keys of the 11 bytes), volume label included. */
  shortNames: Set<string>;
  /** The first end-of-directory (0x00) slot, or the slot count when there is none. */
  end: number;
};

type PendingLongName = { checksum: number; next: number; parts: string[]; slots: number[] };

function longNamePart(slot: Buffer): string {
  let text = '';
  for (const offset of lfnCharOffsets) {
    const unit = slot.readUInt16LE(offset);
    if (unit === 0 || unit === 0xffff) break;
    text += String.fromCharCode(unit);
  }
  return text;
}

/** Parses a directory's bytes (a whole number of slots). */
export function parseDirectory(bytes: Buffer, isFat32: boolean): ParsedDirectory {
  const count = Math.floor(bytes.length / slotBytes);
  const entries: DirEntry[] = [];
  const free: boolean[] = [];
  const shortNames = new Set<string>();
  let ended = false;
  let end = count;
  let pending: PendingLongName | null = null;
  for (let i = 0; i < count; i++) {
    const slot = bytes.subarray(i * slotBytes, (i + 1) * slotBytes);
    const first = slot.readUInt8(0);
    if (ended || first === 0) {
      if (!ended) end = i;
      ended = true;
      free.push(true);
      continue;
    }
    if (first === deletedMark) {
      free.push(true);
      pending = null;
      continue;
    }
    free.push(false);
    const attr = slot.readUInt8(11);
    if ((attr & 0x3f) === attrLongName) {
      const seq = first & 0x1f;
      const checksum = slot.readUInt8(13);
      if ((first & 0x40) !== 0) pending = seq >= 1 ? { checksum, next: seq - 1, parts: [longNamePart(slot)], slots: [i] } : null;
      else if (pending !== null && seq >= 1 && seq === pending.next && checksum === pending.checksum) {
        pending.parts.unshift(longNamePart(slot));
        pending.slots.push(i);
        pending.next = seq - 1;
      } else pending = null;
      continue;
    }
    const short: ShortName = Buffer.from(slot.subarray(0, 11));
    shortNames.add(short.toString('latin1'));
    const longName = pending !== null && pending.next === 0 && pending.checksum === lfnChecksum(short) ? pending : null;
    pending = null;
    if ((attr & attrVolumeLabel) !== 0) continue;
    if (first === 0x2e) continue; // "." and ".." (not in a root directory, but harmless)
    const caseFlags = slot.readUInt8(12);
    const high = isFat32 ? slot.readUInt16LE(20) : 0;
    entries.push({
      name: longName === null ? displayShortName(short, caseFlags) : longName.parts.join(''),
      short,
      caseFlags,
      attr,
      firstCluster: (high << 16) | slot.readUInt16LE(26),
      size: slot.readUInt32LE(28),
      slots: [...(longName?.slots ?? []), i],
    });
  }
  return { entries, free, shortNames, end };
}

/** DOS date and time words for `when` (local time, as FAT keeps it). */
export function dosDateTime(when: Date): { date: number; time: number; tenths: number } {
  const year = Math.min(Math.max(when.getFullYear(), 1980), 2107);
  return {
    date: ((year - 1980) << 9) | ((when.getMonth() + 1) << 5) | when.getDate(),
    time: (when.getHours() << 11) | (when.getMinutes() << 5) | Math.floor(when.getSeconds() / 2),
    tenths: (when.getSeconds() % 2) * 100 + Math.floor(when.getMilliseconds() / 10),
  };
}

/** A short entry for a regular file. */
export function shortEntry(options: { short: ShortName; caseFlags: number; firstCluster: number; size: number; when: Date }): Buffer {
  const slot = Buffer.alloc(slotBytes);
  options.short.copy(slot, 0, 0, 11);
  slot.writeUInt8(attrArchive, 11);
  slot.writeUInt8(options.caseFlags, 12);
  const { date, time, tenths } = dosDateTime(options.when);
  slot.writeUInt8(tenths, 13);
  slot.writeUInt16LE(time, 14);
  slot.writeUInt16LE(date, 16);
  slot.writeUInt16LE(date, 18);
  slot.writeUInt16LE((options.firstCluster >>> 16) & 0xffff, 20);
  slot.writeUInt16LE(time, 22);
  slot.writeUInt16LE(date, 24);
  slot.writeUInt16LE(options.firstCluster & 0xffff, 26);
  slot.writeUInt32LE(options.size, 28);
  return slot;
}
