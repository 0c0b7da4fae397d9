/**
 * A minimal POSIX ustar writer and reader for signed bundles (the agent bundle, and later
 * images): uncompressed, regular files only, so the manifest can be read from the first
 * blocks and every member hashed in place without unpacking.
 *
 * The writer is deterministic (fixed mtime, uid/gid 0, no user names): the same inputs make
 * the same bytes. The reader walks headers with positioned reads (a 100 MB member is
 * skipped, not read) and refuses what a signed bundle never holds: links, devices, long-name
 * extensions, bad header checksums, and an archive cut short anywhere — a member running past
 * the end, or an end-of-archive marker (two zero blocks) that is not all there.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { appError, FieldkitError } from '../../../shared/errors.ts';

const block = 512;
const copyChunk = 1 << 20;

export type TarSource = { kind: 'bytes'; bytes: Uint8Array } | { kind: 'file'; path: string; size: number };
export type TarEntry = { path: string; mode: number; source: TarSource };

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL, as ustar requires (and GNU tar writes).
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new RangeError(`${value} does not fit a ${width}-byte tar field`);
  return digits.padStart(width - 1, '0') + '\0';
}

/** Splits a path into ustar's name (100 bytes) and prefix (155 bytes) fields. */
function splitName(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  const cut = path.lastIndexOf('/', path.length - 1);
  for (let at = cut; at > 0; at = path.lastIndexOf('/', at - 1)) {
    const prefix = path.slice(0, at);
    const name = path.slice(at + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { name, prefix };
  }
  throw new RangeError(`tar member path too long for ustar: ${path}`);
}

/** The 512-byte ustar header of one regular file. */
export function ustarHeader(path: string, mode: number, size: number, mtimeSeconds: number): Buffer {
  const header = Buffer.alloc(block);
  const { name, prefix } = splitName(path);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(mode & 0o7777, 8), 100, 'latin1');
  header.write(octal(0, 8), 108, 'latin1');
  header.write(octal(0, 8), 116, 'latin1');
  header.write(octal(size, 12), 124, 'latin1');
  header.write(octal(mtimeSeconds, 12), 136, 'latin1');
  header.write('        ', 148, 'latin1');
  header.write('0', 156, 'latin1');
  header.write('ustar\x0000', 257, 'latin1');
  header.write(octal(0, 8), 329, 'latin1');
  header.write(octal(0, 8), 337, 'latin1');
  header.write(prefix, 345, 155, 'utf8');
  header.write(octal(checksum(header), 7) + ' ', 148, 'latin1');
  return header;
}

function checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < block; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  return sum;
}

function padding(size: number): number {
  return (block - (size % block)) % block;
}

/** Writes `entries` in order as an uncompressed ustar archive at `outFile`. */
export async function writeUstar(outFile: string, entries: readonly TarEntry[], mtimeSeconds: number): Promise<void> {
  const out = await open(outFile, 'w', 0o644);
  try {
    for (const entry of entries) {
      const size = entry.source.kind === 'bytes' ? entry.source.bytes.length : entry.source.size;
      await out.write(ustarHeader(entry.path, entry.mode, size, mtimeSeconds));
      if (entry.source.kind === 'bytes') await out.write(entry.source.bytes);
      else await copyFileInto(out, entry.source.path, size);
      const pad = padding(size);
      if (pad > 0) await out.write(Buffer.alloc(pad));
    }
    await out.write(Buffer.alloc(block * 2));
    await out.sync();
  } finally {
    await out.close();
  }
}

async function copyFileInto(out: FileHandle, path: string, size: number): Promise<void> {
  const input = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(copyChunk);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await input.read(buffer, 0, Math.min(copyChunk, size - done), done);
      if (bytesRead === 0) throw new Error(`${path} shrank while it was being archived`);
      await out.write(buffer.subarray(0, bytesRead));
      done += bytesRead;
    }
  } finally {
    await input.close();
  }
}

export type UstarMember = { path: string; mode: number; size: number; type: 'file' | 'directory'; /** Byte offset of the content. */ offset: number };

/** What an archive is to the technician, for refusals ("image file", "bundle"), and what to do about a bad one. */
export type ArchiveKind = { noun: string; hint: string };

export const bundleArchive: ArchiveKind = { noun: 'bundle', hint: 'Do not use this archive. Copy it again from where it was published (it may be truncated or damaged).' };

function refuse(archive: string, kind: ArchiveKind, detail: string): FieldkitError {
  return new FieldkitError(appError('VERIFICATION_FAILED', `${archive} is not a well-formed ${kind.noun}: ${detail}.`, kind.hint));
}

/** `missing` counts the bytes up to the end-of-archive marker; `atLeast` when more may be gone than the reader can tell. */
function truncated(archive: string, kind: ArchiveKind, missing: number, atLeast: boolean): FieldkitError {
  const bytes = `${atLeast ? 'at least ' : ''}${missing} byte${missing === 1 ? '' : 's'}`;
  return new FieldkitError(appError('VERIFICATION_FAILED', `The ${kind.noun} ${archive} is truncated (${bytes} missing at the end) — copy it again.`, kind.hint));
}

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function numeric(header: Buffer, start: number, length: number, archive: string, kind: ArchiveKind, what: string): number {
  const text = field(header, start, length).trim();
  if (!/^[0-7]+$/.test(text)) throw refuse(archive, kind, `a header's ${what} field is not an octal number`);
  return parseInt(text, 8);
}

/** True when `header` is a ustar header block (magic and checksum both right). */
export function looksLikeUstarHeader(header: Buffer): boolean {
  if (header.length < block || !header.toString('latin1', 257, 262).startsWith('ustar')) return false;
  const stored = field(header, 148, 8).trim();
  return /^[0-7]+$/.test(stored) && parseInt(stored, 8) === checksum(header);
}

/**
 * The end of an archive: two zero blocks at `at`, then nothing but zeros (GNU tar pads to
 * 10 KiB records) up to a length that is a multiple of 512. Anything less is a cut-short
 * copy, which must not pass as complete however little is missing.
 */
async function checkEnd(handle: FileHandle, at: number, fileSize: number, name: string, kind: ArchiveKind): Promise<void> {
  if (at + 2 * block > fileSize) throw truncated(name, kind, at + 2 * block - fileSize, false);
  const chunk = Buffer.alloc(Math.min(copyChunk, fileSize - at - block));
  for (let from = at + block; from < fileSize; ) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, fileSize - from), from);
    if (bytesRead === 0) throw truncated(name, kind, fileSize - from, false);
    const nonZero = chunk.subarray(0, bytesRead).findIndex((b) => b !== 0);
    if (nonZero !== -1) {
      const where = from + nonZero;
      throw refuse(name, kind, where < at + 2 * block ? `a lone zero block at byte ${at} is followed by data, not by the second block of the end-of-archive marker` : `it holds data after its end-of-archive marker (at byte ${where})`);
    }
    from += bytesRead;
  }
  if (fileSize % block !== 0) throw truncated(name, kind, block - (fileSize % block), true);
}

/** Lists the members of an archive on disk without reading their content; refuses one that is damaged or cut short. */
export async function listUstar(archive: string, name: string = archive, kind: ArchiveKind = bundleArchive): Promise<UstarMember[]> {
  const handle = await open(archive, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const members: UstarMember[] = [];
    const header = Buffer.alloc(block);
    let at = 0;
    for (;;) {
      // A header, or at the least the end-of-archive marker, must follow.
      if (at + block > fileSize) throw truncated(name, kind, at + 2 * block - fileSize, true);
      await handle.read(header, 0, block, at);
      if (header.every((b) => b === 0)) {
        await checkEnd(handle, at, fileSize, name, kind);
        return members;
      }
      if (!looksLikeUstarHeader(header)) throw refuse(name, kind, `the header at byte ${at} is damaged (bad magic or checksum)`);
      const type = String.fromCharCode(header[156] ?? 0);
      const prefix = field(header, 345, 155);
      const path = (prefix === '' ? '' : prefix + '/') + field(header, 0, 100);
      const size = numeric(header, 124, 12, name, kind, 'size');
      if (type !== '0' && type !== '\0' && type !== '5') throw refuse(name, kind, `member ${path} is a "${type}" entry; a ${kind.noun} holds only files and folders`);
      const offset = at + block;
      if (offset + size > fileSize) throw truncated(name, kind, offset + size + padding(size) + 2 * block - fileSize, true);
      members.push({ path, mode: numeric(header, 100, 8, name, kind, 'mode'), size, type: type === '5' ? 'directory' : 'file', offset });
      at = offset + size + padding(size);
    }
  } finally {
    await handle.close();
  }
}

/** Reads one member's content (for small members such as the manifest). */
export async function readUstarMember(archive: string, member: UstarMember): Promise<Buffer> {
  const handle = await open(archive, 'r');
  try {
    const buffer = Buffer.alloc(member.size);
    const { bytesRead } = await handle.read(buffer, 0, member.size, member.offset);
    if (bytesRead < member.size) throw new FieldkitError(appError('IO_ERROR', `${archive} became shorter while ${member.path} was read from it.`, 'Leave the file alone while fieldkit reads it, then try again.'));
    return buffer;
  } finally {
    await handle.close();
  }
}
