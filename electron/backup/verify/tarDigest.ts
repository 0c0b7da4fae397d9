/**
 * Reads a backup class's tar stream (shared/backupStream.ts: ustar, pax headers for long
 * names, the manifest last) as it arrives from `restic dump`, in memory only: every member
 * is hashed as it passes, the manifest is kept, and SQLite databases are kept whole so they
 * can be opened in memory. Nothing is written to disk (the secrets class goes through here).
 */
import { createHash, type Hash } from 'node:crypto';

export type TarMemberDigest = { path: string; size: number; sha256: string };

export type TarDigest = {
  members: Map<string, TarMemberDigest>;
  /** Members kept whole: the manifest, and every member that starts as an SQLite database. */
  kept: Map<string, Buffer>;
  /** Both end-of-archive zero blocks were there. */
  ended: boolean;
};

const BLOCK = 512;
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? length : nul).toString('utf8');
}

function sizeOf(header: Buffer): number {
  const raw = header.subarray(124, 136);
  if ((raw[0] ?? 0) & 0x80) {
    // base-256 (GNU) for members of 8 GiB and more
    let value = 0;
    for (let i = 1; i < raw.length; i++) value = value * 256 + (raw[i] ?? 0);
    return value;
  }
  const text = field(header, 124, 12).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function paxPath(data: Buffer): string | null {
  let offset = 0;
  let path: string | null = null;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = parseInt(data.subarray(offset, space).toString('ascii'), 10);
    if (!Number.isFinite(length) || length <= 0) break;
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    offset += length;
  }
  return path;
}

type Current = { path: string; type: string; size: number; remaining: number; hash: Hash; chunks: Buffer[] | null; first: Buffer | null };

/** A push parser: feed it the stream's chunks, then `finish()`. */
export function createTarDigester(keep: (path: string) => boolean) {
  const digest: TarDigest = { members: new Map(), kept: new Map(), ended: false };
  let pending: Buffer = Buffer.alloc(0);
  let current: Current | null = null;
  let padding = 0;
  let zeroBlocks = 0;
  let nextPath: string | null = null;

  function startMember(header: Buffer): void {
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = field(header, 345, 155);
    const name = field(header, 0, 100);
    const size = sizeOf(header);
    const path = nextPath ?? (prefix === '' ? name : `${prefix}/${name}`);
    if (type !== 'x' && type !== 'g') nextPath = null;
    const keepIt = type === 'x' || keep(path);
    current = { path, type, size, remaining: size, hash: createHash('sha256'), chunks: keepIt ? [] : null, first: null };
    padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) endMember();
  }

  function endMember(): void {
    const member = current;
    if (member === null) return;
    current = null;
    if (member.type === 'x') {
      nextPath = paxPath(Buffer.concat(member.chunks ?? []));
      return;
    }
    if (member.type !== '0' && member.type !== '\0') return;
    digest.members.set(member.path, { path: member.path, size: member.size, sha256: member.hash.digest('hex') });
    if (member.chunks !== null) digest.kept.set(member.path, Buffer.concat(member.chunks));
  }

  function feedData(chunk: Buffer): void {
    const member = current;
    if (member === null) return;
    member.hash.update(chunk);
    if (member.chunks === null && member.first === null) {
      // Keep a database whole from its first bytes on: its kind is known only from the manifest at the end.
      member.first = chunk;
      if (chunk.subarray(0, SQLITE_HEADER.length).equals(SQLITE_HEADER)) member.chunks = [chunk];
    } else member.chunks?.push(chunk);
    member.remaining -= chunk.length;
    if (member.remaining === 0) endMember();
  }

  return {
    push(chunk: Buffer): void {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      for (;;) {
        if (current !== null) {
          const take = Math.min(current.remaining, pending.length - offset);
          if (take === 0) break;
          feedData(pending.subarray(offset, offset + take));
          offset += take;
          continue;
        }
        if (padding > 0) {
          const skip = Math.min(padding, pending.length - offset);
          padding -= skip;
          offset += skip;
          if (padding > 0) break;
        }
        if (pending.length - offset < BLOCK) break;
        const header = pending.subarray(offset, offset + BLOCK);
        offset += BLOCK;
        if (header.every((b) => b === 0)) {
          zeroBlocks++;
          if (zeroBlocks >= 2) digest.ended = true;
          continue;
        }
        zeroBlocks = 0;
        startMember(header);
      }
      // Copy the tail: the chunk it came from may be reused by the stream.
      pending = Buffer.from(pending.subarray(offset));
    },
    finish(): TarDigest {
      return digest;
    },
  };
}
