/**
 * Plain (unsigned) images on real block devices: each compression written to zram and
 * compared with `cmp`; the zero-block skip counted; truncated files, a too-small drive and a
 * drive pulled mid-write (a loop device whose card "leaves the reader") all end refused or
 * "incomplete" with a reason that names the file or the drive.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage, testImageSize } from '../../build/make-test-image.ts';
import { inspectPlainImage } from '../../electron/flash/plain/inspectPlainImage.ts';
import { writePlainImageToDrive, type PlainWriteResult } from '../../electron/flash/plainImage.ts';
import { isFieldkitError, type AppError } from '../../shared/errors.ts';
import { createFreezableLoop, createLoop, type FreezableLoop, type LoopDevice } from '../support/loopDevice.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { createZram, type ZramDevice } from '../support/zram.ts';
import { readBytes } from '../support/readBytes.ts';

const mib = 1 << 20;
const dir = makeTempDir('fieldkit-flash-plain-');
const at = (name: string): string => path.join(dir.path, name);
const marker = Buffer.from('FIELDKIT-PREVIOUS-CONTENT-MARKER');
const devices: ZramDevice[] = [];
const loops: LoopDevice[] = [];
const freezables: FreezableLoop[] = [];
let rawSha256 = '';
/** Bytes of raw.img in 1 MiB blocks that are not all zero: what a zero-skipping write must write. */
let nonZeroBytes = 0;
/** A 1 MiB block of raw.img that is all zeros, to put old content in. */
let zeroBlockOffset = -1;

function zram(bytes: number): ZramDevice {
  const device = createZram(bytes);
  devices.push(device);
  return device;
}

function readDevice(device: string, offset: number, length: number): Buffer {
  return readBytes(device, offset, length);
}

function writeMarker(device: string, offset: number): void {
  const fd = openSync(device, 'r+');
  try {
    writeSync(fd, marker, 0, marker.length, offset);
  } finally {
    closeSync(fd);
  }
  execFileSync('blockdev', ['--flushbufs', device]);
}

async function refusal(promise: Promise<unknown>): Promise<AppError | null> {
  return promise.then(
    () => null,
    (e: unknown) => (isFieldkitError(e) ? e.appError : null),
  );
}

function incomplete(result: PlainWriteResult): AppError {
  if (result.status !== 'incomplete') throw new Error(`expected incomplete, got ${result.status}`);
  expect(result.label).toBe('incomplete — do not use');
  return result.error;
}

function compress(command: string, args: string[], out: string): void {
  writeFileSync(out, execFileSync(command, [...args, '-c', at('raw.img')], { maxBuffer: 256 * mib }));
}

beforeAll(async () => {
  await makeTestImage(at('raw.img'));
  const raw = readFileSync(at('raw.img'));
  rawSha256 = createHash('sha256').update(raw).digest('hex');
  const zeros = Buffer.alloc(mib);
  for (let offset = 0; offset < raw.length; offset += mib) {
    const block = raw.subarray(offset, offset + mib);
    if (!block.equals(zeros.subarray(0, block.length))) nonZeroBytes += block.length;
    else if (zeroBlockOffset < 0 && offset > 0) zeroBlockOffset = offset;
  }
  compress('xz', ['-1', '-T2'], at('raw.img.xz'));
  compress('gzip', ['-1'], at('raw.img.gz'));
  execFileSync('zstd', ['-1', '-q', '-f', at('raw.img'), '-o', at('raw.img.zst')]);
  execFileSync('zstd', ['-1', '-q', '-f', '--no-content-size', at('raw.img'), '-o', at('nosize.img.zst')]);
  // Several frames, as pzstd or `cat a.zst b.zst` make, with a skippable frame between two of them.
  const third = Math.ceil(raw.length / 3);
  const part = (from: number): Buffer => {
    const bytes = raw.subarray(from, from + third);
    return execFileSync('zstd', ['-1', '-q', '-c', `--stream-size=${String(bytes.length)}`], { input: bytes, maxBuffer: 256 * mib });
  };
  const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from('notes')]);
  writeFileSync(at('frames.img.zst'), Buffer.concat([part(0), skippable, part(third), part(2 * third)]));
}, 60_000);

afterAll(async () => {
  for (const loop of freezables) await loop.remove();
  for (const loop of loops) loop.detach();
  for (const device of devices) await device.remove();
  dir.remove();
});

describe('inspectPlainImage', () => {
  it('states the raw size from the xz index, the zstd frame header, a small gzip and the file itself', async () => {
    expect(await inspectPlainImage(at('raw.img'))).toEqual({ compression: 'none', rawBytes: testImageSize, fileBytes: testImageSize });
    const xz = await inspectPlainImage(at('raw.img.xz'));
    expect(xz).toMatchObject({ compression: 'xz', rawBytes: testImageSize });
    expect(xz.fileBytes).toBeLessThan(testImageSize);
    expect(await inspectPlainImage(at('raw.img.zst'))).toMatchObject({ compression: 'zstd', rawBytes: testImageSize });
    expect(await inspectPlainImage(at('frames.img.zst'))).toMatchObject({ compression: 'zstd', rawBytes: testImageSize });
    // Without the content size in its frame header, zstd does not say.
    expect(await inspectPlainImage(at('nosize.img.zst'))).toMatchObject({ compression: 'zstd', rawBytes: null });
    // gzip's ISIZE is the size mod 2^32: believed only for a file too small to hide a wrap.
    const gz = await inspectPlainImage(at('raw.img.gz'));
    expect(gz.compression).toBe('gz');
    expect(gz.rawBytes).toBe(gz.fileBytes < 4_161_790 ? testImageSize : null);
    writeFileSync(at('small.img.gz'), execFileSync('gzip', ['-c'], { input: Buffer.alloc(3 * mib, 7) }));
    expect(await inspectPlainImage(at('small.img.gz'))).toMatchObject({ rawBytes: 3 * mib });
    // Two xz streams back to back (as `cat a.xz b.xz` makes) decompress to both.
    const twice = Buffer.concat([readFileSync(at('raw.img.xz')), Buffer.alloc(8), readFileSync(at('raw.img.xz'))]);
    writeFileSync(at('twice.img.xz'), twice);
    expect(await inspectPlainImage(at('twice.img.xz'))).toMatchObject({ rawBytes: 2 * testImageSize });
  });

  it('refuses a name that is not a plain image and contents that are not what the name says', async () => {
    expect((await refusal(inspectPlainImage(at('raw.iso'))))?.message).toMatch(/raw\.iso is not a plain disk image/);
    writeFileSync(at('fake.img.xz'), readFileSync(at('raw.img.gz')));
    const wrong = await refusal(inspectPlainImage(at('fake.img.xz')));
    expect(wrong?.code).toBe('VERIFICATION_FAILED');
    expect(wrong?.message).toMatch(/fake\.img\.xz is not xz-compressed/);
    expect((await refusal(inspectPlainImage(at('missing.img'))))?.code).toBe('NOT_FOUND');
  });
});

describe('writePlainImageToDrive', () => {
  it.each(['raw.img', 'raw.img.xz', 'raw.img.gz', 'raw.img.zst', 'nosize.img.zst', 'frames.img.zst'])('writes %s byte for byte and reads every byte back', async (file) => {
    const target = zram(96 * mib);
    writeMarker(target.device, zeroBlockOffset);
    const result = await writePlainImageToDrive({ imagePath: at(file), device: target.device, skipZeroBlocks: false });
    if (result.status !== 'success') throw new Error(result.error.message);
    expect(result.directIo).toBe(true);
    expect(result.manifest).toBeNull();
    expect(result.rawBytes).toBe(testImageSize);
    expect(result.imageSha256).toBe(rawSha256);
    // Without the skip every byte is written, zeros too: the old content is gone.
    expect(result.bytesWritten).toBe(testImageSize);
    expect(result.bytesVerified).toBe(testImageSize);
    // cmp exits non-zero (and execFileSync throws) on the first differing byte.
    execFileSync('cmp', ['-n', String(testImageSize), at('raw.img'), target.device]);
  });

  it('skipZeroBlocks writes only the non-zero 1 MiB blocks and leaves the rest of the drive alone', async () => {
    const target = zram(96 * mib);
    writeMarker(target.device, zeroBlockOffset);
    const result = await writePlainImageToDrive({ imagePath: at('raw.img.zst'), device: target.device, skipZeroBlocks: true });
    if (result.status !== 'success') throw new Error(result.error.message);
    expect(nonZeroBytes).toBeLessThan(testImageSize / 2);
    expect(result.bytesWritten).toBe(nonZeroBytes);
    expect(result.bytesVerified).toBe(nonZeroBytes);
    expect(result.imageSha256).toBe(rawSha256);
    expect(readDevice(target.device, zeroBlockOffset, marker.length)).toEqual(marker);
    // Everything but the marker matches the image.
    writeFileSync(at('expected.img'), readFileSync(at('raw.img')));
    const fd = openSync(at('expected.img'), 'r+');
    writeSync(fd, marker, 0, marker.length, zeroBlockOffset);
    closeSync(fd);
    execFileSync('cmp', ['-n', String(testImageSize), at('expected.img'), target.device]);
  });

  it.each([
    ['raw.img.xz', 'xz'],
    ['raw.img.gz', 'gzip'],
    ['raw.img.zst', 'zstd'],
  ])('a truncated %s ends incomplete with the first MiB zeroed', async (file, compression) => {
    const target = zram(96 * mib);
    writeMarker(target.device, 0);
    const cut = at(`cut-${file}`);
    const bytes = readFileSync(at(file));
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    const result = await writePlainImageToDrive({ imagePath: cut, device: target.device, skipZeroBlocks: false });
    const error = incomplete(result);
    expect(error.code).toBe('VERIFICATION_FAILED');
    expect(error.message).toContain(`cut-${file} is truncated or damaged`);
    expect(error.message).toContain(`its ${compression} data does not decompress`);
    expect(result.bytesWritten).toBeGreaterThan(0);
    expect(readDevice(target.device, 0, mib).equals(Buffer.alloc(mib))).toBe(true);
  });

  it('refuses a drive smaller than the stated raw size before writing anything', async () => {
    const small = zram(64 * mib);
    writeMarker(small.device, 0);
    const error = await refusal(writePlainImageToDrive({ imagePath: at('raw.img.xz'), device: small.device, skipZeroBlocks: false }));
    expect(error?.code).toBe('BAD_REQUEST');
    expect(error?.message).toBe(`${small.device} holds ${64 * mib} bytes, less than the ${testImageSize} bytes of raw.img.xz.`);
    expect(readDevice(small.device, 0, marker.length)).toEqual(marker);
    expect(readDevice(small.device, 0, 64 * mib).equals(Buffer.concat([marker, Buffer.alloc(64 * mib - marker.length)]))).toBe(true);
  });

  it('an image of unstated size that outgrows the drive ends incomplete, first MiB zeroed', async () => {
    const small = zram(64 * mib);
    writeMarker(small.device, 0);
    const result = await writePlainImageToDrive({ imagePath: at('nosize.img.zst'), device: small.device, skipZeroBlocks: false });
    const error = incomplete(result);
    expect(error.message).toBe(`nosize.img.zst decompresses to more than the ${64 * mib} bytes ${small.device} holds: it does not fit.`);
    expect(readDevice(small.device, 0, mib).equals(Buffer.alloc(mib))).toBe(true);
  });

  it('cancel mid-write leaves the first MiB zeroed and reports incomplete', async () => {
    const target = zram(96 * mib);
    writeMarker(target.device, 0);
    const controller = new AbortController();
    const result = await writePlainImageToDrive({
      imagePath: at('raw.img.xz'),
      device: target.device,
      skipZeroBlocks: false,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'writing' && p.bytesDone >= 12 * mib) controller.abort();
      },
    });
    expect(incomplete(result).code).toBe('CANCELLED');
    expect(result.bytesWritten).toBeGreaterThan(0);
    expect(result.bytesWritten).toBeLessThan(testImageSize);
    expect(readDevice(target.device, 0, mib).equals(Buffer.alloc(mib))).toBe(true);
  });

  it('a drive pulled mid-write fails promptly with an error naming the drive', async () => {
    const loop = createLoop(at('card.bin'), 96 * mib);
    loops.push(loop);
    let pulledAt = -1;
    const started = performance.now();
    const result = await writePlainImageToDrive({
      imagePath: at('raw.img'),
      device: loop.device,
      skipZeroBlocks: false,
      onProgress: (p) => {
        if (pulledAt < 0 && p.phase === 'writing' && p.bytesDone >= 12 * mib) {
          pulledAt = p.bytesDone;
          loop.pull();
        }
      },
    });
    expect(pulledAt).toBeGreaterThan(0);
    const error = incomplete(result);
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(new RegExp(`^${loop.device} was removed or stopped responding while writing at \\d+\\.\\d MB \\([A-Z]+\\) — reinsert it and flash again\\.$`));
    expect(error.hint).toMatch(/Reinsert it/);
    expect(result.bytesWritten).toBeLessThan(testImageSize);
    expect(performance.now() - started).toBeLessThan(20_000);
    // The card "comes back" empty; the loop device is still usable, nothing hangs on it.
    truncateSync(loop.backing, 96 * mib);
    execFileSync('losetup', ['--set-capacity', loop.device]);
    expect(readDevice(loop.device, 0, 16).length).toBe(16);
  });

  it('a drive that stops answering mid-write fails after the stall timeout, naming the drive', async () => {
    const loop = createFreezableLoop(dir.path, 96 * mib);
    freezables.push(loop);
    const started = performance.now();
    try {
      const result = await writePlainImageToDrive({
        imagePath: at('raw.img'),
        device: loop.device,
        skipZeroBlocks: false,
        stallTimeoutMs: 1500,
        onProgress: (p) => {
          if (p.phase === 'writing' && p.bytesDone >= 12 * mib) loop.freeze();
        },
      });
      const error = incomplete(result);
      expect(error.code).toBe('UNAVAILABLE');
      expect(error.message).toMatch(new RegExp(`^${loop.device} was removed or stopped responding while writing at \\d+\\.\\d MB \\(ETIMEDOUT\\) — reinsert it and flash again\\.$`));
      expect(performance.now() - started).toBeLessThan(15_000);
    } finally {
      loop.thaw();
    }
  });

  it('cancel ends a flash whose drive stopped answering, without waiting for the drive', async () => {
    const loop = createFreezableLoop(dir.path, 96 * mib);
    freezables.push(loop);
    const controller = new AbortController();
    let cancelledAt = 0;
    try {
      const result = await writePlainImageToDrive({
        imagePath: at('raw.img'),
        device: loop.device,
        skipZeroBlocks: false,
        signal: controller.signal,
        onProgress: (p) => {
          if (cancelledAt === 0 && p.phase === 'writing' && p.bytesDone >= 12 * mib) {
            loop.freeze();
            cancelledAt = performance.now() + 500;
            setTimeout(() => {
              controller.abort();
            }, 500);
          }
        },
      });
      expect(incomplete(result).code).toBe('CANCELLED');
      // The default stall timeout is a minute; cancel did not wait for it, nor for the drive.
      expect(performance.now() - cancelledAt).toBeLessThan(8_000);
    } finally {
      loop.thaw();
    }
  });
});
