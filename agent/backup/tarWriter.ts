/**
 * A small POSIX tar writer for backup streams (shared/backupStream.ts): regular files only,
 * ustar headers, a pax extended header ('x') in front of a member whose path does not fit
 * ustar's 100-byte name field or is not plain ASCII, or whose size does not fit 11 octal
 * digits (8 GiB). GNU tar and any pax reader take the pax `path`/`size` over the header's.
 *
 * It writes to a sink (stdout, or memory in tests) and waits on it, so a slow reader slows
 * the device down instead of filling its memory. Each member's SHA-256 is taken over exactly
 * the bytes written, in the same pass; a file that shrinks while it is read is an error (its
 * header already promised a size), never padded with bytes that were not in it.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const block = 512;
const copyChunk = 1 << 20;
const maxUstarSize = 0o77777777777;

/** Where the bytes go; resolves once the chunk is accepted (back-pressure). */
export type TarSink = (chunk: Buffer) => Promise<void>;

export type TarMemberHeader = {
  /** The member name: the device path without its leading "/". */
  name: string;
  mode: number;
  mtimeMs: number;
  uid: number;
  gid: number;
};

export type WrittenMember = { size: number; sha256: string };

export type TarWriter = {
  /** Writes a member holding the first `size` bytes of the file at `path`. */
  addFile(header: TarMemberHeader, path: string, size: number): Promise<WrittenMember>;
  addBytes(header: TarMemberHeader, bytes: Uint8Array): Promise<WrittenMember>;
  /** The two zero blocks that end the archive. Nothing may be added after. */
  finish(): Promise<void>;
};

function octal(value: number, width: number): string {
  const digits = Math.trunc(value).toString(8);
  if (digits.length > width - 1) throw new RangeError(`${value} does not fit a ${width}-byte tar field`);
  return digits.padStart(width - 1, '0') + '\0';
}

function checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < block; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  return sum;
}

function padding(size: number): number {
  return (block - (size % block)) % block;
}

/** One pax record: "<length> <key>=<value>\n", where the length counts itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body);
  let digits = 1;
  while (String(bodyBytes + digits).length > digits) digits++;
  return `${String(bodyBytes + digits)}${body}`;
}

function needsPaxPath(name: string): boolean {
  return Buffer.byteLength(name) > 100 || !/^[\x20-\x7e]*$/.test(name);
}

/** A stand-in name for the ustar field when the real one travels in a pax header. */
function shortName(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_');
  return ascii.length <= 100 ? ascii : ascii.slice(ascii.length - 100);
}

export function ustarHeader(fields: { name: string; mode: number; uid: number; gid: number; size: number; mtimeSeconds: number; type: '0' | 'x' }): Buffer {
  const header = Buffer.alloc(block);
  header.write(fields.name, 0, 100, 'latin1');
  header.write(octal(fields.mode & 0o7777, 8), 100, 'latin1');
  header.write(octal(fields.uid, 8), 108, 'latin1');
  header.write(octal(fields.gid, 8), 116, 'latin1');
  header.write(octal(fields.size, 12), 124, 'latin1');
  header.write(octal(Math.max(0, fields.mtimeSeconds), 12), 136, 'latin1');
  header.write('        ', 148, 'latin1');
  header.write(fields.type, 156, 'latin1');
  header.write('ustar\x0000', 257, 'latin1');
  header.write(octal(0, 8), 329, 'latin1');
  header.write(octal(0, 8), 337, 'latin1');
  header.write(octal(checksum(header), 7) + ' ', 148, 'latin1');
  return header;
}

/** The header block(s) of one regular file: a pax header first when ustar cannot say it. */
export function memberHeaders(header: TarMemberHeader, size: number): Buffer[] {
  const records: string[] = [];
  if (needsPaxPath(header.name)) records.push(paxRecord('path', header.name));
  if (size > maxUstarSize) records.push(paxRecord('size', String(size)));
  const mtimeSeconds = Math.floor(header.mtimeMs / 1000);
  const ids = { uid: header.uid > 0o7777777 ? 0 : header.uid, gid: header.gid > 0o7777777 ? 0 : header.gid };
  const blocks: Buffer[] = [];
  if (records.length > 0) {
    const body = Buffer.from(records.join(''), 'utf8');
    blocks.push(ustarHeader({ name: shortName(`PaxHeaders/${header.name.split('/').at(-1) ?? ''}`), mode: 0o644, ...ids, size: body.length, mtimeSeconds, type: 'x' }));
    blocks.push(body, Buffer.alloc(padding(body.length)));
  }
  blocks.push(ustarHeader({ name: needsPaxPath(header.name) ? shortName(header.name) : header.name, mode: header.mode, ...ids, size: size > maxUstarSize ? 0 : size, mtimeSeconds, type: '0' }));
  return blocks;
}

export function createTarWriter(sink: TarSink): TarWriter {
  let finished = false;
  const check = (): void => {
    if (finished) throw new Error('the tar stream is already finished');
  };

  async function writeHeaders(header: TarMemberHeader, size: number): Promise<void> {
    await sink(Buffer.concat(memberHeaders(header, size)));
  }

  return {
    async addFile(header, path, size) {
      check();
      const hash = createHash('sha256');
      const input = await open(path, 'r');
      const readAt = async (position: number): Promise<Buffer> => {
        const buffer = Buffer.allocUnsafe(Math.min(copyChunk, size - position));
        const { bytesRead } = await input.read(buffer, 0, buffer.length, position);
        return buffer.subarray(0, bytesRead);
      };
      // The next chunk is read while this one is hashed and written: the disk and the
      // reader (ssh) work at once instead of taking turns.
      let next: Promise<Buffer> | null = size > 0 ? readAt(0) : null;
      try {
        await writeHeaders(header, size);
        let done = 0;
        while (next !== null) {
          const chunk = await next;
          if (chunk.length === 0) throw new Error(`${path} shrank from ${String(size)} to ${String(done)} bytes while it was being sent`);
          done += chunk.length;
          next = done < size ? readAt(done) : null;
          hash.update(chunk);
          await sink(chunk);
        }
      } finally {
        // A read still under way (the sink failed) settles before the file is closed.
        await next?.catch(() => undefined);
        await input.close();
      }
      const pad = padding(size);
      if (pad > 0) await sink(Buffer.alloc(pad));
      return { size, sha256: hash.digest('hex') };
    },
    async addBytes(header, bytes) {
      check();
      const chunk = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      await writeHeaders(header, chunk.length);
      await sink(chunk);
      const pad = padding(chunk.length);
      if (pad > 0) await sink(Buffer.alloc(pad));
      return { size: chunk.length, sha256: createHash('sha256').update(chunk).digest('hex') };
    },
    async finish() {
      check();
      finished = true;
      await sink(Buffer.alloc(block * 2));
    },
  };
}
