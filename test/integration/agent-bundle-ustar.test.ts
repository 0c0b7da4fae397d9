/**
 * The bundle's ustar writer and reader, with GNU tar as the oracle: GNU tar lists and
 * extracts what we write (modes, long paths, empty and odd-sized files), we read what GNU
 * tar writes, and the reader refuses truncation, damaged headers and links.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { listUstar, readUstarMember, ustarHeader, writeUstar, type TarEntry } from '../../electron/kernel/signing/ustarArchive.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { makeTempDir } from '../support/tempDir.ts';

const execFileAsync = promisify(execFile);
const dir = makeTempDir('fieldkit-ustar-');
const at = (...parts: string[]) => path.join(dir.path, ...parts);
afterAll(() => {
  dir.remove();
});

const big = randomBytes(1_500_000 + 3);
const longPath = `node/${'deep/'.repeat(25)}file.txt`;

async function writeSample(file: string): Promise<TarEntry[]> {
  writeFileSync(at('big.bin'), big);
  const entries: TarEntry[] = [
    { path: 'manifest.json', mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from('{"a":1}\n') } },
    { path: 'bin/run', mode: 0o755, source: { kind: 'bytes', bytes: Buffer.from('#!/bin/sh\necho hi\n') } },
    { path: 'empty', mode: 0o600, source: { kind: 'bytes', bytes: Buffer.alloc(0) } },
    { path: 'node/bin/big.bin', mode: 0o755, source: { kind: 'file', path: at('big.bin'), size: big.length } },
    { path: longPath, mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from('long\n') } },
  ];
  await writeUstar(file, entries, 1_700_000_000);
  return entries;
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isFieldkitError(error)) return error.appError.message;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('ustar archives', () => {
  it('writes headers GNU tar lists with the right names, sizes, modes and mtime', async () => {
    await writeSample(at('sample.tar'));
    const { stdout } = await execFileAsync('tar', ['--numeric-owner', '--full-time', '-tvf', at('sample.tar')], { env: { ...process.env, TZ: 'UTC' } });
    const rows = stdout.trim().split('\n');
    expect(rows.map((r) => r.split(/\s+/).at(-1))).toEqual(['manifest.json', 'bin/run', 'empty', 'node/bin/big.bin', longPath]);
    expect(rows[1]).toMatch(/^-rwxr-xr-x 0\/0\s+18 2023-11-14 22:13:20 bin\/run$/);
    expect(rows[2]).toMatch(/^-rw------- 0\/0\s+0 /);
    expect(rows[3]).toContain(` ${big.length} `);
  });

  it('extracts byte-identical files with GNU tar', async () => {
    mkdirSync(at('out'));
    await execFileAsync('tar', ['-xf', at('sample.tar'), '-C', at('out')]);
    expect(readFileSync(at('out', 'node/bin/big.bin')).equals(big)).toBe(true);
    expect(readFileSync(at('out', longPath), 'utf8')).toBe('long\n');
    expect(statSync(at('out', 'bin/run')).mode & 0o777).toBe(0o755);
  });

  it('is deterministic: the same entries give the same bytes', async () => {
    await writeSample(at('again.tar'));
    expect(readFileSync(at('again.tar')).equals(readFileSync(at('sample.tar')))).toBe(true);
  });

  it('lists members in order with their content offsets', async () => {
    const members = await listUstar(at('sample.tar'));
    expect(members.map((m) => [m.path, m.size, m.mode])).toEqual([
      ['manifest.json', 8, 0o644],
      ['bin/run', 18, 0o755],
      ['empty', 0, 0o600],
      ['node/bin/big.bin', big.length, 0o755],
      [longPath, 5, 0o644],
    ]);
    const bigMember = members[3];
    if (bigMember === undefined) throw new Error('no big member');
    expect((await readUstarMember(at('sample.tar'), bigMember)).equals(big)).toBe(true);
  });

  it('reads archives GNU tar wrote in ustar format, folders included', async () => {
    mkdirSync(at('src/sub'), { recursive: true });
    writeFileSync(at('src/sub/x.txt'), 'x');
    await execFileAsync('tar', ['--format=ustar', '-cf', at('gnu.tar'), '-C', at('src'), 'sub']);
    const members = await listUstar(at('gnu.tar'));
    expect(members.map((m) => [m.path, m.type])).toEqual([
      ['sub/', 'directory'],
      ['sub/x.txt', 'file'],
    ]);
  });

  it('refuses a truncated archive', async () => {
    writeFileSync(at('cut.tar'), readFileSync(at('sample.tar')));
    truncateSync(at('cut.tar'), 512 * 6);
    expect(await refusal(listUstar(at('cut.tar'), 'cut.tar'))).toMatch(/^The bundle cut\.tar is truncated \(at least \d+ bytes missing at the end\) — copy it again\.$/);
    truncateSync(at('cut.tar'), 512 * 3);
    expect(await refusal(listUstar(at('cut.tar')))).toContain('truncated');
  });

  // Past the first zero block the reader cannot tell a cut marker from a cut header: "at least".
  it.each([
    [1, '1 byte'],
    [511, '511 bytes'],
    [512, '512 bytes'],
    [1023, 'at least 1023 bytes'],
  ])('refuses an archive whose end-of-archive marker lost its last %i bytes, saying how many', async (cut, said) => {
    const whole = readFileSync(at('sample.tar'));
    writeFileSync(at('short.tar'), whole.subarray(0, whole.length - cut));
    expect(await refusal(listUstar(at('short.tar'), 'short.tar'))).toBe(`The bundle short.tar is truncated (${said} missing at the end) — copy it again.`);
  });

  it('accepts the zero records GNU tar pads with, and refuses that archive with its last byte cut', async () => {
    const gnu = readFileSync(at('gnu.tar'));
    expect(gnu.length % 10240).toBe(0);
    writeFileSync(at('gnu-cut.tar'), gnu.subarray(0, gnu.length - 1));
    expect(await refusal(listUstar(at('gnu-cut.tar'), 'gnu-cut.tar'))).toBe('The bundle gnu-cut.tar is truncated (at least 1 byte missing at the end) — copy it again.');
  });

  it('refuses data after the end-of-archive marker, and a lone zero block', async () => {
    const whole = readFileSync(at('sample.tar'));
    writeFileSync(at('trailing.tar'), Buffer.concat([whole, Buffer.from('appended\n'), Buffer.alloc(512 - 9)]));
    expect(await refusal(listUstar(at('trailing.tar')))).toContain(`it holds data after its end-of-archive marker (at byte ${whole.length})`);
    const lone = Buffer.from(whole);
    lone[whole.length - 512] = 1;
    writeFileSync(at('lone.tar'), lone);
    expect(await refusal(listUstar(at('lone.tar')))).toContain(`a lone zero block at byte ${whole.length - 1024} is followed by data`);
  });

  it('refuses a damaged header', async () => {
    const bytes = readFileSync(at('sample.tar'));
    bytes[1024 + 3] = 0x41; // inside the second header's name
    writeFileSync(at('damaged.tar'), bytes);
    expect(await refusal(listUstar(at('damaged.tar')))).toContain('header at byte 1024 is damaged');
  });

  it('refuses links, which a signed bundle never holds', async () => {
    mkdirSync(at('linked'));
    writeFileSync(at('linked/target'), 't');
    symlinkSync('/etc/passwd', at('linked/evil'));
    await execFileAsync('tar', ['--format=ustar', '-cf', at('link.tar'), '-C', at('linked'), 'target', 'evil']);
    expect(await refusal(listUstar(at('link.tar')))).toContain('member evil is a "2" entry');
  });

  it('refuses paths too long for ustar instead of truncating them', () => {
    expect(() => ustarHeader('x'.repeat(101), 0o644, 0, 0)).toThrow(/too long/);
  });
});
