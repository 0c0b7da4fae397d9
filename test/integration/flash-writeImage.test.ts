/**
 * The writer core on real block devices (zram): a signed test image written sparse and
 * read back, compared with `cmp` and `sfdisk`; refusals that write nothing; cancel and
 * mismatches that leave the drive's first MiB zeroed and the result "incomplete".
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, copyFileSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage, testImageSize } from '../../build/make-test-image.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { verifyImage } from '../../electron/kernel/image/verifyImage.ts';
import { writeImageToDrive, type WriteProgress } from '../../electron/flash/writeImage.ts';
import { planWrites } from '../../electron/flash/writePlan.ts';
import { defaultTrustedComment, generateSecretKey, signBytes } from '../../electron/kernel/signing/minisign.ts';
import { formatSignature, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { listUstar, readUstarMember, writeUstar } from '../../electron/kernel/signing/ustarArchive.ts';
import { bytesToWrite, imageManifestName, imagePayloadNames, imageSignatureName, type ImageManifest } from '../../shared/image.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { createLoop, type LoopDevice } from '../support/loopDevice.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { createZram, type ZramDevice } from '../support/zram.ts';
import { readBytes } from '../support/readBytes.ts';

const mib = 1 << 20;
const dir = makeTempDir('fieldkit-flash-write-');
const at = (name: string): string => path.join(dir.path, name);
const key = generateSecretKey();
const trusted = [publicKeyOf(key)];
const marker = Buffer.from('FIELDKIT-PREVIOUS-CONTENT-MARKER');
let manifest: ImageManifest;
const devices: ZramDevice[] = [];
const loops: LoopDevice[] = [];

function zram(bytes: number): ZramDevice {
  const device = createZram(bytes);
  devices.push(device);
  return device;
}

function readDevice(device: string, offset: number, length: number): Buffer {
  return readBytes(device, offset, length);
}

type SfdiskTable = { partitiontable: { label: string; partitions: { start: number; size: number }[] } };

/**
 * `sfdisk --json` of the device. zram has 4096-byte logical sectors while the image (like a
 * real SD card) uses 512, so sfdisk on the zram itself would look for the GPT header at byte
 * 4096; a read-only loop device with 512-byte sectors over the same zram shows the bytes as a
 * card would.
 */
function sfdiskLayout(device: string): SfdiskTable {
  const loop = execFileSync('losetup', ['--sector-size', '512', '--read-only', '--find', '--show', device], { encoding: 'utf8' }).trim();
  try {
    return JSON.parse(execFileSync('sfdisk', ['--json', loop], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as SfdiskTable;
  } finally {
    execFileSync('losetup', ['--detach', loop]);
  }
}

/** Puts the marker at byte 0 and at 40 MiB (inside a mapped range), as an older image would. */
function writeMarkers(device: string): void {
  const fd = openSync(device, 'r+');
  try {
    writeSync(fd, marker, 0, marker.length, 0);
    writeSync(fd, marker, 0, marker.length, 40 * mib);
  } finally {
    closeSync(fd);
  }
  execFileSync('blockdev', ['--flushbufs', device]);
}

beforeAll(async () => {
  await makeTestImage(at('raw.img'));
  manifest = (await packImage(at('raw.img'), at('good.fkimg'), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4', 'pi5'], expiresDays: 30, key })).manifest;
}, 30_000);
/**
 * A signed image whose payload is xz (pack writes zstd, gz or none): the uncompressed image's
 * payload recompressed with the stock `xz`, the manifest's payload fields updated, signed again.
 */
async function packXzImage(out: string): Promise<void> {
  const plain = at('for-xz.fkimg');
  const packed = await packImage(at('raw.img'), plain, { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4'], expiresDays: 30, key, compression: 'none' });
  const member = (await listUstar(plain)).find((m) => m.path === imagePayloadNames.none);
  if (member === undefined) throw new Error('no payload member');
  const xz = execFileSync('xz', ['-1', '-T2', '-c'], { input: await readUstarMember(plain, member), maxBuffer: 256 * mib });
  const xzManifest: ImageManifest = { ...packed.manifest, payload: { ...packed.manifest.payload, compression: 'xz', compressed_size: xz.length, sha256: createHash('sha256').update(xz).digest('hex') } };
  const manifestBytes = Buffer.from(JSON.stringify(xzManifest, null, 2) + '\n');
  const signature = signBytes(key, manifestBytes, { trustedComment: defaultTrustedComment(imageManifestName) });
  await writeUstar(
    out,
    [
      { path: imageManifestName, mode: 0o644, source: { kind: 'bytes', bytes: manifestBytes } },
      { path: imageSignatureName, mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from(formatSignature(signature)) } },
      { path: imagePayloadNames.xz, mode: 0o644, source: { kind: 'bytes', bytes: xz } },
    ],
    Math.floor(Date.now() / 1000),
  );
}

/** An onProgress that flips the byte at `where` of `file` once the pre-check has hashed the whole payload. */
function flipAfterPrecheck(file: string, where: number): (p: WriteProgress) => void {
  let flipped = false;
  return (p) => {
    if (flipped || p.phase !== 'checking' || p.bytesDone !== p.bytesTotal) return;
    flipped = true;
    const fd = openSync(file, 'r+');
    try {
      const byte = Buffer.alloc(1);
      readSync(fd, byte, 0, 1, where);
      writeSync(fd, Buffer.from([(byte[0] ?? 0) ^ 0x40]), 0, 1, where);
    } finally {
      closeSync(fd);
    }
  };
}

afterAll(async () => {
  for (const loop of loops) loop.detach();
  for (const device of devices) await device.remove();
  dir.remove();
});

describe('writeImageToDrive', () => {
  it('writes all but the free space, zeros included, reads it back, and the device holds the image layout', async () => {
    const target = zram(96 * mib);
    // Old content in a stretch of zeros that is not free space (say, a file of zeros): it must go.
    const zeros = planWrites(manifest).readBack.find((r) => r.sha256 === null && r.length >= 4096);
    if (zeros === undefined) throw new Error('no zeros to write');
    const fd = openSync(target.device, 'r+');
    writeSync(fd, marker, 0, marker.length, zeros.offset);
    closeSync(fd);
    execFileSync('blockdev', ['--flushbufs', target.device]);
    const progress: WriteProgress[] = [];
    const result = await writeImageToDrive({ imagePath: at('good.fkimg'), device: target.device, trustedKeys: trusted, onProgress: (p) => progress.push(p) });
    if (result.status !== 'success') throw new Error(result.error.message);
    expect(result.directIo).toBe(true);
    const mapped = bytesToWrite(manifest);
    expect(result.bytesWritten).toBe(mapped);
    expect(result.bytesVerified).toBe(mapped);
    expect(mapped).toBeLessThan(testImageSize);
    for (const range of planWrites(manifest).write) {
      // cmp exits non-zero (and execFileSync throws) on the first differing byte.
      execFileSync('cmp', ['-n', String(range.length), '-i', `${range.offset}:${range.offset}`, at('raw.img'), target.device]);
    }
    expect(readDevice(target.device, zeros.offset, marker.length)).toEqual(Buffer.alloc(marker.length));
    const table = sfdiskLayout(target.device);
    expect(table.partitiontable.label).toBe(manifest.layout.table === 'gpt' ? 'gpt' : 'dos');
    const starts = table.partitiontable.partitions.map((p) => p.start * 512);
    for (const partition of manifest.layout.partitions) expect(starts).toContain(partition.start);
    const checking = progress.filter((p) => p.phase === 'checking');
    expect(checking.at(-1)).toEqual({ phase: 'checking', bytesDone: manifest.payload.compressed_size, bytesTotal: manifest.payload.compressed_size });
    expect(progress.indexOf(checking.at(-1) as WriteProgress)).toBeLessThan(progress.findIndex((p) => p.phase !== 'checking'));
    const writing = progress.filter((p) => p.phase === 'writing');
    const verifying = progress.filter((p) => p.phase === 'verifying');
    expect(writing.at(-1)).toEqual({ phase: 'writing', bytesDone: mapped, bytesTotal: mapped });
    expect(verifying.at(-1)).toEqual({ phase: 'verifying', bytesDone: mapped, bytesTotal: mapped });
    expect(progress.indexOf(verifying[0] as WriteProgress)).toBeGreaterThan(progress.indexOf(writing.at(-1) as WriteProgress));
  });

  it('refuses an edited manifest before writing a byte', async () => {
    const target = zram(96 * mib);
    writeMarkers(target.device);
    const file = at('edited.fkimg');
    copyFileSync(at('good.fkimg'), file);
    const bytes = readFileSync(file);
    const where = bytes.toString('latin1').indexOf('"version": "1.2.0"');
    bytes.write('"version": "9.9.9"', where, 'latin1');
    writeFileSync(file, bytes);
    const error = await writeImageToDrive({ imagePath: file, device: target.device, trustedKeys: trusted }).then(
      () => null,
      (e: unknown) => (isFieldkitError(e) ? e.appError : null),
    );
    expect(error?.code).toBe('VERIFICATION_FAILED');
    expect(error?.message).toMatch(/does not match its signature/);
    expect(readDevice(target.device, 0, marker.length)).toEqual(marker);
    expect(readDevice(target.device, 40 * mib, marker.length)).toEqual(marker);
  });

  it('refuses a key it does not trust, and a device smaller than the raw image, writing nothing', async () => {
    const small = zram(64 * mib);
    writeMarkers(small.device);
    await expect(writeImageToDrive({ imagePath: at('good.fkimg'), device: small.device, trustedKeys: trusted })).rejects.toThrow(/holds 67108864 bytes, less than the 83886080 bytes/);
    await expect(writeImageToDrive({ imagePath: at('good.fkimg'), device: small.device, trustedKeys: [publicKeyOf(generateSecretKey())] })).rejects.toThrow(/not trusted/);
    expect(readDevice(small.device, 0, marker.length)).toEqual(marker);
    expect(readDevice(small.device, 40 * mib, marker.length)).toEqual(marker);
  });

  it('refuses a device another program holds exclusively (as a mounted filesystem does), writing nothing', async () => {
    const target = zram(96 * mib);
    writeMarkers(target.device);
    const holder = openSync(target.device, constants.O_RDONLY | constants.O_EXCL);
    try {
      const error = await writeImageToDrive({ imagePath: at('good.fkimg'), device: target.device, trustedKeys: trusted }).then(
        () => null,
        (e: unknown) => (isFieldkitError(e) ? e.appError : null),
      );
      expect(error?.code).toBe('CONFLICT');
      expect(error?.message).toContain(`${target.device} is in use`);
      expect(error?.hint).toMatch(/Unmount/);
    } finally {
      closeSync(holder);
    }
    expect(readDevice(target.device, 0, marker.length)).toEqual(marker);
  });

  it('writes an uncompressed image the same way', async () => {
    const target = zram(96 * mib);
    await packImage(at('raw.img'), at('plain.fkimg'), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4'], expiresDays: 30, key, compression: 'none' });
    const result = await writeImageToDrive({ imagePath: at('plain.fkimg'), device: target.device, trustedKeys: trusted });
    expect(result.status).toBe('success');
    execFileSync('cmp', ['-n', String(testImageSize), at('raw.img'), target.device]);
  });

  // The pre-check refuses a flipped byte before the drive is opened (flash-usedCard.test.ts);
  // these flip it just after the pre-check, as a file replaced mid-flash would, to show the
  // streaming checks still catch it.
  it('a payload byte changed after the pre-check aborts mid-stream: incomplete, first MiB zeroed', async () => {
    const target = zram(96 * mib);
    writeMarkers(target.device);
    const file = at('flipped.fkimg');
    copyFileSync(at('good.fkimg'), file);
    const payload = (await listUstar(file)).find((m) => m.path === 'image.img.zst');
    if (payload === undefined) throw new Error('no payload member');
    const result = await writeImageToDrive({ imagePath: file, device: target.device, trustedKeys: trusted, onProgress: flipAfterPrecheck(file, payload.offset + Math.floor(payload.size / 2)) });
    expect(result.status).toBe('incomplete');
    if (result.status !== 'incomplete') return;
    expect(result.label).toBe('incomplete — do not use');
    expect(result.error.code).toMatch(/VERIFICATION_FAILED|IO_ERROR/);
    expect(readDevice(target.device, 0, mib).equals(Buffer.alloc(mib))).toBe(true);
  });

  // An uncompressed payload has no stored-hash pass while streaming (see writeImage.ts): the
  // range hashes and the zero check of every unmapped byte alone must refuse a byte changed
  // after the pre-check, wherever it is.
  it.each([
    ['inside a mapped range', 'range'],
    ['in an unmapped (zero) gap', 'gap'],
  ])('a byte changed after the pre-check %s of an uncompressed payload aborts mid-stream: incomplete, first MiB zeroed', async (_where, kind) => {
    const target = zram(96 * mib);
    writeMarkers(target.device);
    const file = at(`raw-${kind}.fkimg`);
    const packed = await packImage(at('raw.img'), file, { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4'], expiresDays: 30, key, compression: 'none' });
    const ranges = packed.manifest.block_map.ranges;
    const middle = ranges[Math.floor(ranges.length / 2)];
    const first = ranges[0];
    if (middle === undefined || first === undefined) throw new Error('no mapped range');
    const offset = kind === 'range' ? middle.offset + Math.floor(middle.length / 2) : first.offset + first.length + 4096;
    expect(ranges.some((r) => offset >= r.offset && offset < r.offset + r.length)).toBe(kind === 'range');
    const payload = (await listUstar(file)).find((m) => m.path === imagePayloadNames.none);
    if (payload === undefined) throw new Error('no payload member');
    const result = await writeImageToDrive({ imagePath: file, device: target.device, trustedKeys: trusted, onProgress: flipAfterPrecheck(file, payload.offset + offset) });
    expect(result.status).toBe('incomplete');
    if (result.status !== 'incomplete') return;
    expect(result.error.code).toBe('VERIFICATION_FAILED');
    expect(result.error.message).toContain('does not match its signed block map');
    expect(result.bytesWritten).toBeLessThan(bytesToWrite(packed.manifest));
    expect(readDevice(target.device, 0, mib).equals(Buffer.alloc(mib))).toBe(true);
  });

  it('cancel mid-write leaves the first MiB zeroed and reports incomplete', async () => {
    const target = zram(96 * mib);
    writeMarkers(target.device);
    const controller = new AbortController();
    const result = await writeImageToDrive({
      imagePath: at('good.fkimg'),
      device: target.device,
      trustedKeys: trusted,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'writing' && p.bytesDone > 0) controller.abort();
      },
    });
    expect(result.status).toBe('incomplete');
    if (result.status !== 'incomplete') return;
    expect(result.error.code).toBe('CANCELLED');
    expect(result.bytesWritten).toBeGreaterThan(0);
    expect(result.bytesWritten).toBeLessThan(bytesToWrite(manifest));
    expect(readDevice(target.device, 0, mib).equals(Buffer.alloc(mib))).toBe(true);
    expect(() => sfdiskLayout(target.device)).toThrow();
  });

  it('cancel while the image is checked refuses the flash: nothing written', async () => {
    const target = zram(96 * mib);
    writeMarkers(target.device);
    const controller = new AbortController();
    const error = await writeImageToDrive({
      imagePath: at('good.fkimg'),
      device: target.device,
      trustedKeys: trusted,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'checking') controller.abort();
      },
    }).then(
      () => null,
      (e: unknown) => (isFieldkitError(e) ? e.appError : null),
    );
    expect(error?.code).toBe('CANCELLED');
    expect(error?.message).toMatch(/before anything was written/);
    expect(readDevice(target.device, 0, marker.length)).toEqual(marker);
    expect(readDevice(target.device, 40 * mib, marker.length)).toEqual(marker);
  });

  it('a byte flipped on the device between write and read-back is caught', async () => {
    const target = zram(96 * mib);
    const range = manifest.block_map.ranges.at(-1);
    if (range === undefined) throw new Error('no mapped range');
    const where = range.offset + Math.floor(range.length / 2);
    const result = await writeImageToDrive({
      imagePath: at('good.fkimg'),
      device: target.device,
      trustedKeys: trusted,
      // The test-only hook: corrupt one byte on the device after the flush, as a failing card would.
      beforeReadBack: () => {
        const original = readDevice(target.device, where, 1);
        const fd = openSync(target.device, 'r+');
        writeSync(fd, Buffer.from([(original[0] ?? 0) ^ 0xff]), 0, 1, where);
        closeSync(fd);
        execFileSync('blockdev', ['--flushbufs', target.device]);
        return Promise.resolve();
      },
    });
    expect(result.status).toBe('incomplete');
    if (result.status !== 'incomplete') return;
    expect(result.error.code).toBe('VERIFICATION_FAILED');
    expect(result.error.message).toContain(`at byte ${range.offset} differ from what was written`);
    expect(readDevice(target.device, 0, mib).equals(Buffer.alloc(mib))).toBe(true);
  });

  it('writes a signed image with an xz payload, which verify also decodes', async () => {
    await packXzImage(at('xz.fkimg'));
    const verified = await verifyImage(at('xz.fkimg'), { trustedKeys: trusted });
    expect(verified.payloadChecked).toBe(true);
    expect(verified.manifest.payload.compression).toBe('xz');
    const target = zram(96 * mib);
    const result = await writeImageToDrive({ imagePath: at('xz.fkimg'), device: target.device, trustedKeys: trusted });
    if (result.status !== 'success') throw new Error(result.error.message);
    expect(result.bytesWritten).toBe(bytesToWrite(verified.manifest));
    for (const range of planWrites(verified.manifest).write) execFileSync('cmp', ['-n', String(range.length), '-i', `${range.offset}:${range.offset}`, at('raw.img'), target.device]);
  });

  it('a drive pulled mid-write fails promptly with an error naming the drive', async () => {
    const loop = createLoop(at('card.bin'), 96 * mib);
    loops.push(loop);
    let pulled = false;
    const started = performance.now();
    const result = await writeImageToDrive({
      imagePath: at('good.fkimg'),
      device: loop.device,
      trustedKeys: trusted,
      onProgress: (p) => {
        if (!pulled && p.phase === 'writing' && p.bytesDone > 0) {
          pulled = true;
          loop.pull();
        }
      },
    });
    expect(pulled).toBe(true);
    expect(result.status).toBe('incomplete');
    if (result.status !== 'incomplete') return;
    expect(result.error.code).toBe('UNAVAILABLE');
    expect(result.error.message).toMatch(new RegExp(`^${loop.device} was removed or stopped responding while writing at \\d+\\.\\d MB \\([A-Z]+\\) — reinsert it and flash again\\.$`));
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
