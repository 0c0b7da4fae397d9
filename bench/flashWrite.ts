/**
 * Flash write + read-back of a signed image to a real block device (zram, needs root), beside
 * the baseline a technician would use by hand: `dd … bs=4M oflag=direct` of the raw image and
 * a separate `cmp` to check it. The image is 512 MiB raw with 160 MiB of random data (the A/B
 * test layout, then data spread past it), so the sparse write has something to skip; dd
 * writes every byte. Also our buffered path (fsync + flushbufs), which is why O_DIRECT is the
 * default.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, truncate } from 'node:fs/promises';
import path from 'node:path';
import { makeTestImage } from '../build/make-test-image.ts';
import { packImage } from '../electron/flash/packImage.ts';
import { writeImageToDrive } from '../electron/flash/writeImage.ts';
import { generateSecretKey } from '../electron/signing/minisign.ts';
import { publicKeyOf } from '../electron/signing/minisignFormat.ts';
import { formatRate } from '../shared/format.ts';
import { mappedBytes } from '../shared/image.ts';
import { makeTempDir } from '../test/support/tempDir.ts';
import { createZram } from '../test/support/zram.ts';

const mib = 1 << 20;
const rawBytes = 512 * mib;
const rounds = 3;

async function makeBenchImage(raw: string): Promise<void> {
  await makeTestImage(raw);
  await truncate(raw, rawBytes);
  const handle = await open(raw, 'r+');
  try {
    // Eight 18 MiB runs of random data after the test layout's 80 MiB, with gaps between.
    for (let i = 0; i < 8; i++) await handle.write(randomBytes(18 * mib), 0, 18 * mib, 96 * mib + i * 52 * mib);
  } finally {
    await handle.close();
  }
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

export async function benchFlashWrite(): Promise<void> {
  const dir = makeTempDir('fieldkit-bench-flash-');
  const zram = createZram(rawBytes + 64 * mib);
  try {
    const raw = path.join(dir.path, 'raw.img');
    const image = path.join(dir.path, 'bench.fkimg');
    await makeBenchImage(raw);
    const key = generateSecretKey();
    const { manifest } = await packImage(raw, image, { product: 'bench-os', version: '1.0.0', sequence: 1, boards: ['pi5'], expiresDays: 1, key, level: 1 });
    const trustedKeys = [publicKeyOf(key)];
    const mapped = mappedBytes(manifest.block_map);

    const ours = async (directIo: boolean): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < rounds; i++) {
        times.push(
          await timed(async () => {
            const result = await writeImageToDrive({ imagePath: image, device: zram.device, trustedKeys, directIo });
            if (result.status !== 'success') throw new Error(`flash ${result.status}: ${result.error.message}`);
          }),
        );
      }
      return Math.min(...times);
    };
    const direct = await ours(true);
    const buffered = await ours(false);
    const ddTimes: number[] = [];
    for (let i = 0; i < rounds; i++) {
      ddTimes.push(
        await timed(() => {
          execFileSync('dd', [`if=${raw}`, `of=${zram.device}`, 'bs=4M', 'oflag=direct', 'status=none']);
          execFileSync('cmp', ['-n', String(rawBytes), raw, zram.device]);
          return Promise.resolve();
        }),
      );
    }
    const dd = Math.min(...ddTimes);
    const rate = (s: number): string => formatRate(rawBytes / s).padStart(12);
    console.log(`flash write + read-back, ${rawBytes / mib} MiB raw image (${Math.round(mapped / mib)} MiB mapped, zstd), zram, best of ${rounds} (rates per raw byte):`);
    console.log(`  dd oflag=direct + cmp          ${rate(dd)}  (baseline: writes and compares every byte, no signature or hash)`);
    console.log(`  fieldkit flash, buffered       ${rate(buffered)}  = ${(dd / buffered).toFixed(2)}x dd+cmp`);
    console.log(`  fieldkit flash, O_DIRECT       ${rate(direct)}  = ${(dd / direct).toFixed(2)}x dd+cmp, ${(buffered / direct).toFixed(2)}x buffered`);
  } finally {
    await zram.remove();
    dir.remove();
  }
}
