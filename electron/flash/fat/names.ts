/**
 * FAT names: the long (VFAT) name a file is known by, and the 8.3 short name every
 * directory entry must also carry. Short names follow the Windows rules: upper case,
 * invalid characters become '_', and a lossy or too long name gets a `~N` tail that no
 * other entry in the directory has.
 */
import { appError, FieldkitError } from '../../../shared/errors.ts';

/** Characters allowed in a short name besides A-Z and 0-9. */
const shortSpecials = new Set("!#$%&'()-@^_`{}~");
const forbidden = /[\\/:*?"<>|]/;

/** The UTF-16 code units of `text` as one-character strings (short names are ASCII anyway). */
function units(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i++) out.push(text.charAt(i));
  return out;
}

/** Bytes 0-10 of a directory entry: base (8) and extension (3), space padded. */
export type ShortName = Buffer;

export function badName(name: string, detail: string): FieldkitError {
  return new FieldkitError(appError('BAD_REQUEST', `"${name}" cannot be a FAT file name: ${detail}.`, 'Use a name without \\ / : * ? " < > |, at most 255 characters, not ending in a dot or space.'));
}

/** Throws unless `name` is a valid long file name. */
export function checkLongName(name: string): void {
  if (name.length === 0) throw badName(name, 'it is empty');
  if (name.length > 255) throw badName(name, 'it is longer than 255 characters');
  if (forbidden.test(name) || units(name).some((ch) => ch.charCodeAt(0) < 0x20)) throw badName(name, 'it holds a character FAT forbids');
  if (name === '.' || name === '..' || /[. ]$/.test(name)) throw badName(name, 'it ends in a dot or a space');
}

function isShortChar(ch: string): boolean {
  return /^[A-Z0-9]$/.test(ch) || shortSpecials.has(ch);
}

export function shortNameBytes(base: string, ext: string): ShortName {
  return Buffer.from(base.padEnd(8, ' ') + ext.padEnd(3, ' '), 'latin1');
}

/**
 * When `name` already is an 8.3 name whose base and extension are each all upper or all
 * lower case, it needs no long-name entries: the short entry plus the case bits Windows NT
 * and Linux use (0x08 lower-case base, 0x10 lower-case extension) say it exactly.
 */
export function exactShortName(name: string): { short: ShortName; caseFlags: number } | null {
  const dot = name.lastIndexOf('.');
  const base = dot === -1 ? name : name.slice(0, dot);
  const ext = dot === -1 ? '' : name.slice(dot + 1);
  if (base.length < 1 || base.length > 8 || ext.length > 3 || (dot !== -1 && ext.length === 0)) return null;
  const caseOf = (part: string): 'upper' | 'lower' | 'none' | 'mixed' => {
    const hasUpper = /[A-Z]/.test(part);
    const hasLower = /[a-z]/.test(part);
    return hasUpper && hasLower ? 'mixed' : hasUpper ? 'upper' : hasLower ? 'lower' : 'none';
  };
  const baseCase = caseOf(base);
  const extCase = caseOf(ext);
  if (baseCase === 'mixed' || extCase === 'mixed') return null;
  const upperBase = base.toUpperCase();
  const upperExt = ext.toUpperCase();
  if (!units(upperBase + upperExt).every(isShortChar)) return null;
  return { short: shortNameBytes(upperBase, upperExt), caseFlags: (baseCase === 'lower' ? 0x08 : 0) | (extCase === 'lower' ? 0x10 : 0) };
}

/** The Windows "basis name" of a long name, and whether it lost anything on the way. */
export function basisName(name: string): { base: string; ext: string; lossy: boolean } {
  let lossy = false;
  const convert = (part: string): string =>
    units(part)
      .map((original) => {
        // Upper-case ASCII only: 'ß'.toUpperCase() is two letters.
        const ch = original.charCodeAt(0) < 0x80 ? original.toUpperCase() : original;
        if (isShortChar(ch)) return ch;
        if (ch === ' ' || ch === '.') {
          lossy = true;
          return '';
        }
        // + , ; = [ ] and anything beyond ASCII.
        lossy = true;
        return '_';
      })
      .join('');
  const trimmed = name.replace(/^\.+/, () => {
    lossy = true;
    return '';
  });
  const dot = trimmed.lastIndexOf('.');
  const rawBase = dot === -1 ? trimmed : trimmed.slice(0, dot);
  const rawExt = dot === -1 ? '' : trimmed.slice(dot + 1);
  let base = convert(rawBase);
  let ext = convert(rawExt);
  if (base.length > 8) {
    base = base.slice(0, 8);
    lossy = true;
  }
  if (ext.length > 3) {
    ext = ext.slice(0, 3);
    lossy = true;
  }
  if (base === '') {
    base = '_';
    lossy = true;
  }
  return { base, ext, lossy };
}

/**
 * A short name for `name` that is not in `taken` (keys are the 11 bytes as latin1):
 * the basis itself when nothing was lost and it is free, else BASIS~N.EXT.
 */
export function uniqueShortName(name: string, taken: ReadonlySet<string>): ShortName {
  const { base, ext, lossy } = basisName(name);
  const plain = shortNameBytes(base, ext);
  if (!lossy && !taken.has(plain.toString('latin1'))) return plain;
  for (let n = 1; n < 1_000_000; n++) {
    const tail = `~${n}`;
    const candidate = shortNameBytes(base.slice(0, 8 - tail.length) + tail, ext);
    if (!taken.has(candidate.toString('latin1'))) return candidate;
  }
  throw badName(name, 'every short-name alias is taken');
}

/** The checksum of a short name that each of its long-name entries carries. */
export function lfnChecksum(short: ShortName): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = ((((sum & 1) << 7) | (sum >> 1)) + (short[i] ?? 0)) & 0xff;
  return sum;
}

/** Where the 13 UTF-16 characters sit in a long-name entry. */
export const lfnCharOffsets = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30] as const;

/** The long-name entries for `name`, in on-disk order (highest sequence number first). */
export function longNameEntries(name: string, checksum: number): Buffer[] {
  const units: number[] = [];
  for (let i = 0; i < name.length; i++) units.push(name.charCodeAt(i));
  const count = Math.ceil(units.length / 13);
  // One 0x0000 terminator when the name does not fill the last entry, then 0xFFFF padding.
  if (units.length % 13 !== 0) units.push(0);
  while (units.length < count * 13) units.push(0xffff);
  const entries: Buffer[] = [];
  for (let seq = count; seq >= 1; seq--) {
    const entry = Buffer.alloc(32);
    entry.writeUInt8(seq | (seq === count ? 0x40 : 0), 0);
    entry.writeUInt8(0x0f, 11);
    entry.writeUInt8(0, 12);
    entry.writeUInt8(checksum, 13);
    entry.writeUInt16LE(0, 26);
    lfnCharOffsets.forEach((offset, i) => entry.writeUInt16LE(units[(seq - 1) * 13 + i] ?? 0xffff, offset));
    entries.push(entry);
  }
  return entries;
}

/** The name a short entry shows (`CONFIG.TXT`, or `config.txt` with the case bits). */
export function displayShortName(short: ShortName, caseFlags: number): string {
  let base = short.toString('latin1', 0, 8).trimEnd();
  let ext = short.toString('latin1', 8, 11).trimEnd();
  // 0x05 stands for a leading 0xE5 (which would mean "deleted").
  if (base.startsWith('\u0005')) base = '\u00e5' + base.slice(1);
  if ((caseFlags & 0x08) !== 0) base = base.toLowerCase();
  if ((caseFlags & 0x10) !== 0) ext = ext.toLowerCase();
  return ext === '' ? base : `${base}.${ext}`;
}

/** FAT names compare without regard to case. */
export function sameName(a: string, b: string): boolean {
  return a.toUpperCase() === b.toUpperCase();
}

/**
 * The directory names of file `name`: a plain 8.3 name needs only its short entry; anything
 * else gets long-name slots and a unique short alias — `keep` (a replaced file's own alias)
 * when given.
 */
export function entryNames(name: string, taken: ReadonlySet<string>, keep: ShortName | null): { short: ShortName; caseFlags: number; longSlots: Buffer[] } {
  const exact = exactShortName(name);
  if (exact !== null && !taken.has(exact.short.toString('latin1'))) return { short: exact.short, caseFlags: exact.caseFlags, longSlots: [] };
  const short = keep ?? uniqueShortName(name, taken);
  return { short, caseFlags: 0, longSlots: longNameEntries(name, lfnChecksum(short)) };
}
