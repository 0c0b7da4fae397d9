/**
 * Reads a backup class's tar stream (shared/backupStream.ts: ustar, pax `path`/`size` records,
 * the manifest last) as it arrives on stdin, member by member, with back-pressure: each
 * member's bytes are handed to `onMember`'s writer before more of the stream is read.
 * Header checksums are checked; anything but regular files and pax headers is refused.
 */
const BLOCK = 512;

export type TarMember = { path: string; size: number; mode: number; uid: number; gid: number; mtimeMs: number };

export type MemberWriter = { write(chunk: Buffer): Promise<void>; end(): Promise<void> };

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? length : nul).toString('utf8');
}

function octalField(header: Buffer, start: number, length: number): number {
  const raw = header.subarray(start, start + length);
  if ((raw[0] ?? 0) & 0x80) {
    let value = 0;
    for (let i = 1; i < raw.length; i++) value = value * 256 + (raw[i] ?? 0);
    return value;
  }
  const text = field(header, start, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  return sum === octalField(header, 148, 8);
}

function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = parseInt(data.subarray(offset, space).toString('ascii'), 10);
    if (!Number.isFinite(length) || length <= 0) break;
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    out.set(record.slice(0, eq), record.slice(eq + 1));
    offset += length;
  }
  return out;
}

/** A reader of exactly-n-bytes over an async chunk source. */
function byteReader(source: AsyncIterable<Buffer>) {
  const it = source[Symbol.asyncIterator]();
  let pending = Buffer.alloc(0);
  return {
    /** Up to `max` bytes (fewer only at the end of the input: then an empty buffer). */
    async some(max: number): Promise<Buffer> {
      if (pending.length === 0) {
        const next = await it.next();
        if (next.done === true) return Buffer.alloc(0);
        pending = Buffer.from(next.value);
      }
      const out = pending.subarray(0, max);
      pending = pending.subarray(out.length);
      return out;
    },
    async exactly(n: number): Promise<Buffer> {
      const parts: Buffer[] = [];
      let got = 0;
      while (got < n) {
        const part = await this.some(n - got);
        if (part.length === 0) throw new Error(`the stream ended ${String(n - got)} bytes short of a tar block`);
        parts.push(part);
        got += part.length;
      }
      return Buffer.concat(parts);
    },
    /** True when nothing but zeros is left. */
    async restIsZeros(): Promise<boolean> {
      for (;;) {
        const part = await this.some(1 << 16);
        if (part.length === 0) return true;
        if (part.some((b) => b !== 0)) return false;
      }
    },
  };
}

/** Reads the whole archive; `onMember` returns where each regular file's bytes go. Throws on anything malformed. */
export async function readTar(source: AsyncIterable<Buffer>, onMember: (member: TarMember) => Promise<MemberWriter>): Promise<void> {
  const input = byteReader(source);
  let pax = new Map<string, string>();
  for (;;) {
    const header = await input.exactly(BLOCK);
    if (header.every((b) => b === 0)) {
      const second = await input.exactly(BLOCK);
      if (!second.every((b) => b === 0)) throw new Error('a single zero block in the middle of the archive');
      if (!(await input.restIsZeros())) throw new Error('bytes after the end of the archive');
      return;
    }
    if (!checksumOk(header)) throw new Error('a tar header checksum does not match (the stream is damaged)');
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = field(header, 345, 155);
    const name = field(header, 0, 100);
    const size = Number(pax.get('size') ?? octalField(header, 124, 12));
    const path = pax.get('path') ?? (prefix === '' ? name : `${prefix}/${name}`);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (type === 'x') {
      pax = paxRecords(await input.exactly(size));
      await input.exactly(pad);
      continue;
    }
    pax = new Map();
    if (type !== '0' && type !== '\0') throw new Error(`member ${path} is not a regular file (type ${type})`);
    const writer = await onMember({ path, size, mode: octalField(header, 100, 8), uid: octalField(header, 108, 8), gid: octalField(header, 116, 8), mtimeMs: octalField(header, 136, 12) * 1000 });
    let left = size;
    while (left > 0) {
      const chunk = await input.some(Math.min(left, 1 << 20));
      if (chunk.length === 0) throw new Error(`the stream ended inside ${path}`);
      await writer.write(chunk);
      left -= chunk.length;
    }
    await writer.end();
    await input.exactly(pad);
  }
}
