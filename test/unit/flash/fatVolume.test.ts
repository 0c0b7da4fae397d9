/**
 * The FAT writer against the reference tools: volumes made by mkfs.vfat (FAT12, 16 and 32)
 * at a partition-like offset, files put there by mcopy; after every write fsck.fat -n must
 * have nothing to say, mtype must read the exact bytes and mdir must show the long names.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFieldkitError } from '../../../shared/errors.ts';
import { handleBlockIo, memoryBlockIo } from '../../../electron/flash/fat/blockIo.ts';
import { FatVolume } from '../../../electron/flash/fat/fatVolume.ts';
import { expectFsckClean, makeFatImage, mcopy, mdel, mdir, mtype, sha256 } from '../../support/fatTools.ts';
import { makeTempDir } from '../../support/tempDir.ts';

const offset = 1 << 20;
const sizes = { 12: 2, 16: 16, 32: 40 } as const;

let dir: ReturnType<typeof makeTempDir>;
beforeEach(() => {
  dir = makeTempDir('fieldkit-fat-');
});
afterEach(() => {
  dir.remove();
});

async function withVolume<T>(image: string, at: number, use: (volume: FatVolume) => Promise<T>): Promise<T> {
  const handle = await open(image, 'r+');
  try {
    return await use(await FatVolume.open(handleBlockIo(handle, image), { offset: at, name: 'test volume' }));
  } finally {
    await handle.close();
  }
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
}

describe.each([12, 16, 32] as const)('FAT%i volume', (type) => {
  const image = (): string => join(dir.path, `fat${type}.img`);
  const volumeBytes = sizes[type] * 1048576;
  const clean = (): void => { expectFsckClean(image(), offset, volumeBytes, dir.path); };

  it('creates long-named files next to mcopy files, with ~N aliases that do not collide', async () => {
    makeFatImage(image(), { type, sizeMiB: sizes[type], offset });
    const theirs = { 'fieldkit-identity.json': randomBytes(700), 'cmdline.txt': Buffer.from('console=serial0,115200 rootwait\n'), 'kernel8.img': randomBytes(70_000) };
    for (const [name, bytes] of Object.entries(theirs)) mcopy(image(), offset, name, bytes, dir.path);
    const ours = {
      'fieldkit-agent.json': randomBytes(5000),
      'user-data': Buffer.from('#cloud-config\nhostname: pi-1\n'),
      'A rather long name with spaces, ünïcode and more than 26 chars.txt': randomBytes(3),
      'Config.TXT': Buffer.from('mixed case, short enough'),
      empty: Buffer.alloc(0),
    };
    await withVolume(image(), offset, async (volume) => {
      expect(volume.geometry.type).toBe(type);
      for (const [name, bytes] of Object.entries(theirs)) expect(await volume.readFile(name)).toEqual(bytes);
      for (const [name, bytes] of Object.entries(ours)) await volume.writeFile(name, bytes);
      for (const [name, bytes] of Object.entries(ours)) expect(await volume.readFile(name.toUpperCase())).toEqual(bytes);
      const listed = await volume.list();
      expect(new Set(listed.map((f) => f.shortName)).size).toBe(listed.length);
      expect(listed.find((f) => f.name === 'fieldkit-agent.json')?.shortName).toBe('FIELDK~2.JSO');
    });
    clean();
    for (const [name, bytes] of Object.entries({ ...theirs, ...ours })) expect(mtype(image(), offset, name)).toEqual(bytes);
    const listing = mdir(image(), offset);
    for (const name of Object.keys(ours)) expect(listing).toContain(name);
  });

  it('replaces a file (any case) in place of the old one, freeing its clusters, and is idempotent', async () => {
    makeFatImage(image(), { type, sizeMiB: sizes[type], offset });
    mcopy(image(), offset, 'CMDLINE.TXT', Buffer.from('old\n'), dir.path);
    const big = randomBytes(40_000);
    await withVolume(image(), offset, async (volume) => {
      const free = await volume.freeBytes();
      await volume.writeFile('fieldkit-authorized_keys', big);
      await volume.writeFile('fieldkit-authorized_keys', Buffer.from('ssh-ed25519 AAAA small\n'));
      await volume.writeFile('cmdline.txt', Buffer.from('console=tty1 systemd.run=/boot/firmware/firstrun.sh\n'));
      await volume.writeFile('fieldkit-authorized_keys', big);
      await volume.writeFile('fieldkit-authorized_keys', big);
      const cluster = volume.geometry.clusterBytes;
      expect(free - (await volume.freeBytes())).toBe(Math.ceil(big.length / cluster) * cluster);
      const names = (await volume.list()).map((f) => f.name.toLowerCase());
      expect(names.filter((n) => n === 'fieldkit-authorized_keys')).toHaveLength(1);
      expect(names.filter((n) => n === 'cmdline.txt')).toHaveLength(1);
    });
    clean();
    expect(mtype(image(), offset, 'fieldkit-authorized_keys')).toEqual(big);
    expect(mtype(image(), offset, 'cmdline.txt').toString()).toBe('console=tty1 systemd.run=/boot/firmware/firstrun.sh\n');
  });

  it('reads and replaces a fragmented file mtools wrote', async () => {
    makeFatImage(image(), { type, sizeMiB: sizes[type], offset });
    const a = randomBytes(9000);
    mcopy(image(), offset, 'a.bin', a, dir.path);
    mcopy(image(), offset, 'b.bin', randomBytes(9000), dir.path);
    mdel(image(), offset, 'a.bin');
    const fragmented = randomBytes(60_000);
    mcopy(image(), offset, 'fragmented.bin', fragmented, dir.path);
    await withVolume(image(), offset, async (volume) => {
      expect(await volume.readFile('fragmented.bin')).toEqual(fragmented);
      expect(await volume.readFile('a.bin')).toBeNull();
      await volume.writeFile('fragmented.bin', a);
    });
    clean();
    expect(mtype(image(), offset, 'fragmented.bin')).toEqual(a);
  });

  it('refuses a file larger than the free space with the volume untouched, then fits one that replaces a big file', async () => {
    makeFatImage(image(), { type, sizeMiB: sizes[type], offset });
    const filler = await withVolume(image(), offset, async (volume) => {
      const bytes = randomBytes((await volume.freeBytes()) - 3 * volume.geometry.clusterBytes);
      await volume.writeFile('filler.bin', bytes);
      return bytes;
    });
    clean();
    const before = sha256(readFileSync(image()));
    const error = await withVolume(image(), offset, async (volume) => caught(volume.writeFile('too-big-for-what-is-left.bin', randomBytes(4 * volume.geometry.clusterBytes))));
    expect(isFieldkitError(error) && error.appError.code).toBe('IO_ERROR');
    expect((error as Error).message).toMatch(/^Disk full: too-big-for-what-is-left\.bin .* does not fit/);
    expect(sha256(readFileSync(image()))).toBe(before);
    // Replacing the filler with something as large fits: its own clusters count as free.
    const replacement = randomBytes(filler.length + 2 * 512);
    await withVolume(image(), offset, async (volume) => {
      await volume.writeFile('filler.bin', replacement);
      expect(sha256(await volume.readFile('filler.bin') ?? Buffer.alloc(0))).toBe(sha256(replacement));
    });
    clean();
    expect(sha256(mtype(image(), offset, 'filler.bin'))).toBe(sha256(replacement));
  });
});

describe('FAT directories', () => {
  it('refuses a new file when a FAT16 fixed root directory is full, writing nothing', async () => {
    const image = join(dir.path, 'root16.img');
    // mkfs.vfat rounds -r 16 up to 64 entries; fill every one.
    makeFatImage(image, { type: 16, sizeMiB: 16, offset, extra: ['-r', '16'] });
    const entries = await withVolume(image, offset, (volume) => Promise.resolve(volume.geometry.rootDirEntries));
    expect(entries).toBe(64);
    for (let i = 0; i < entries; i++) mcopy(image, offset, `F${i}.TXT`, Buffer.from(`${i}\n`), dir.path);
    const before = sha256(readFileSync(image));
    const error = await withVolume(image, offset, (volume) => caught(volume.writeFile('meta-data', Buffer.from('instance-id: x\n'))));
    expect(isFieldkitError(error) && error.appError.code).toBe('IO_ERROR');
    expect((error as Error).message).toContain('root directory of test volume is full (64 entries)');
    expect(sha256(readFileSync(image))).toBe(before);
    // Replacing one of the 16 still works: its slot is reused.
    await withVolume(image, offset, (volume) => volume.writeFile('f3.txt', Buffer.from('three\n')));
    expectFsckClean(image, offset, 16 << 20, dir.path);
    expect(mtype(image, offset, 'F3.TXT').toString()).toBe('three\n');
  });

  it('grows a FAT32 root directory by clusters when its slots run out', async () => {
    const image = join(dir.path, 'grow32.img');
    makeFatImage(image, { type: 32, sizeMiB: 40, offset, extra: ['-s', '1', '-S', '512'] });
    const files = Array.from({ length: 12 }, (_, i) => [`a long file name number ${i} that takes three slots.txt`, randomBytes(100 + i)] as const);
    await withVolume(image, offset, async (volume) => {
      expect(volume.geometry.clusterBytes).toBe(512);
      for (const [name, bytes] of files) await volume.writeFile(name, bytes);
      for (const [name, bytes] of files) expect(await volume.readFile(name)).toEqual(bytes);
    });
    expectFsckClean(image, offset, 40 << 20, dir.path);
    const listing = mdir(image, offset);
    for (const [name, bytes] of files) {
      expect(listing).toContain(name);
      expect(mtype(image, offset, name)).toEqual(bytes);
    }
  });

  it('refuses to write over a folder, and refuses what is not FAT', async () => {
    const image = join(dir.path, 'dirs.img');
    makeFatImage(image, { type: 12, sizeMiB: 2 });
    execFileSync('mmd', ['-i', image, '::overlays'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    const folder = await withVolume(image, 0, (volume) => caught(volume.writeFile('OVERLAYS', Buffer.from('x'))));
    expect(isFieldkitError(folder) && folder.appError.code).toBe('CONFLICT');
    const notFat = await caught(FatVolume.open(memoryBlockIo(Buffer.alloc(4096)), { name: '/dev/sdz1' }));
    expect(isFieldkitError(notFat) && notFat.appError.code).toBe('BAD_REQUEST');
    expect((notFat as Error).message).toBe('/dev/sdz1 does not hold a FAT filesystem: the boot sector does not start with a jump instruction.');
  });

  it('keeps stale slots past the end-of-directory marker dead when writing there', async () => {
    const image = join(dir.path, 'stale.img');
    makeFatImage(image, { type: 16, sizeMiB: 16 });
    mcopy(image, 0, 'KEEP.TXT', Buffer.from('keep\n'), dir.path);
    const rootOffset = await withVolume(image, 0, (volume) => Promise.resolve(volume.geometry.rootDirOffset));
    // A stale, empty file entry two slots past the end marker, as a sloppy writer might leave.
    const fd = openSync(image, 'r+');
    const stale = Buffer.alloc(32);
    stale.write('GHOST   TXT', 0, 'latin1');
    stale.writeUInt8(0x20, 11);
    writeSync(fd, stale, 0, 32, rootOffset + 2 * 32);
    closeSync(fd);
    expect(mdir(image, 0)).not.toMatch(/GHOST/i);
    await withVolume(image, 0, (volume) => volume.writeFile('NEW.TXT', Buffer.from('new\n')));
    expectFsckClean(image, 0, 16 << 20, dir.path);
    const listing = mdir(image, 0);
    expect(listing).toMatch(/^NEW\s+TXT/m);
    expect(listing).not.toMatch(/GHOST/i);
  });

  it('works on an image held in memory', async () => {
    const image = join(dir.path, 'memory.img');
    makeFatImage(image, { type: 16, sizeMiB: 16 });
    const bytes = readFileSync(image);
    const volume = await FatVolume.open(memoryBlockIo(bytes));
    await volume.writeFile('fieldkit-identity.json', Buffer.from('{}\n'));
    expect((await volume.readFile('fieldkit-identity.json'))?.toString()).toBe('{}\n');
    writeFileSync(image, bytes);
    expectFsckClean(image, 0, bytes.length, dir.path);
    expect(mtype(image, 0, 'fieldkit-identity.json').toString()).toBe('{}\n');
  });
});
