import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTarWriter, memberHeaders, paxRecord, type TarMemberHeader } from '../../agent/backup/tarWriter.ts';
import { osReleaseVersion } from '../../agent/backup/deviceFacts.ts';

const header = (name: string): TarMemberHeader => ({ name, mode: 0o600, mtimeMs: 1_700_000_000_500, uid: 1001, gid: 1001 });

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('latin1');
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  return parseInt(field(block, 148, 8).trim(), 8) === sum;
}

describe('backup tar writer', () => {
  it('makes pax records whose length prefix counts itself, across a digit boundary', () => {
    for (const value of ['x', 'a'.repeat(88), 'a'.repeat(89), 'a'.repeat(90), 'a'.repeat(92), 'a'.repeat(93), 'é'.repeat(500)]) {
      const record = paxRecord('path', value);
      expect(Buffer.byteLength(record)).toBe(Number(record.split(' ')[0]));
      expect(record.endsWith(`path=${value}\n`)).toBe(true);
    }
  });

  it('writes a plain ustar header for a short ASCII name, with mode, ids, size and mtime', () => {
    const [block, ...rest] = memberHeaders(header('etc/ssh/ssh_host_ed25519_key'), 411);
    expect(rest).toEqual([]);
    if (block === undefined) throw new Error('no header');
    expect(block.length).toBe(512);
    expect(field(block, 0, 100)).toBe('etc/ssh/ssh_host_ed25519_key');
    expect(parseInt(field(block, 100, 8), 8)).toBe(0o600);
    expect(parseInt(field(block, 108, 8), 8)).toBe(1001);
    expect(parseInt(field(block, 124, 12), 8)).toBe(411);
    expect(parseInt(field(block, 136, 12), 8)).toBe(1_700_000_000);
    expect(field(block, 156, 1)).toBe('0');
    expect(field(block, 257, 6)).toBe('ustar');
    expect(checksumOk(block)).toBe(true);
  });

  it('puts a long or non-ASCII path in a pax header before the member', () => {
    for (const name of [`var/lib/app/${'d'.repeat(120)}/file`, 'srv/data/café.txt']) {
      const blocks = memberHeaders(header(name), 5);
      const [pax, body, , member] = blocks;
      if (pax === undefined || body === undefined || member === undefined) throw new Error('missing blocks');
      expect(field(pax, 156, 1)).toBe('x');
      expect(checksumOk(pax)).toBe(true);
      expect(body.toString('utf8')).toBe(paxRecord('path', name));
      expect(parseInt(field(pax, 124, 12), 8)).toBe(body.length);
      expect(field(member, 156, 1)).toBe('0');
      expect(checksumOk(member)).toBe(true);
      expect(Buffer.concat(blocks).length % 512).toBe(0);
    }
  });

  it('streams members in 512-byte blocks, hashes exactly the bytes sent, and ends with two zero blocks', async () => {
    const chunks: Buffer[] = [];
    const writer = createTarWriter((chunk) => {
      chunks.push(Buffer.from(chunk));
      return Promise.resolve();
    });
    const content = Buffer.from('hello backup\n');
    const written = await writer.addBytes(header('etc/hostname'), content);
    expect(written).toEqual({ size: content.length, sha256: createHash('sha256').update(content).digest('hex') });
    await writer.finish();
    const all = Buffer.concat(chunks);
    expect(all.length).toBe(512 + 512 + 1024);
    expect(all.subarray(512, 512 + content.length).equals(content)).toBe(true);
    expect(all.subarray(1024).every((b) => b === 0)).toBe(true);
    await expect(writer.addBytes(header('late'), content)).rejects.toThrow(/already finished/);
  });

  it('reads the image version from os-release, null when it names none', () => {
    expect(osReleaseVersion('NAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\n')).toBe('12');
    expect(osReleaseVersion("VERSION='2024.03'\n")).toBe('2024.03');
    expect(osReleaseVersion('NAME=Arch\n')).toBeNull();
  });
});
