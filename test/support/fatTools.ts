/**
 * The dosfstools and mtools oracles for FAT tests: make a volume with mkfs.vfat at a byte
 * offset inside an image file, put files on it with mcopy, and check it with fsck.fat -n,
 * mtype and mdir — the independent implementations our FAT writer must agree with.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const mtoolsEnv = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

/** `image@@offset` as mtools spells a volume inside an image. */
export function mtoolsTarget(image: string, offset: number): string {
  return offset === 0 ? image : `${image}@@${offset}`;
}

/** Makes `image` (`offset + sizeMiB` MiB) with a FAT`type` volume of `sizeMiB` MiB at `offset` (a multiple of 512). */
export function makeFatImage(image: string, options: { type: 12 | 16 | 32; sizeMiB: number; offset?: number; extra?: string[] }): void {
  const offset = options.offset ?? 0;
  execFileSync('truncate', ['-s', String(offset + options.sizeMiB * 1048576), image]);
  execFileSync('mkfs.vfat', ['-F', String(options.type), '--offset', String(offset / 512), ...(options.extra ?? []), image, String(options.sizeMiB * 1024)], { stdio: 'pipe' });
}

/** Copies `content` onto the volume as `name` with mcopy. */
export function mcopy(image: string, offset: number, name: string, content: Buffer, work: string): void {
  const local = join(work, `mcopy-${createHash('sha256').update(name).digest('hex').slice(0, 12)}`);
  writeFileSync(local, content);
  execFileSync('mcopy', ['-o', '-i', mtoolsTarget(image, offset), local, `::${name}`], { env: mtoolsEnv, stdio: 'pipe' });
}

export function mdel(image: string, offset: number, name: string): void {
  execFileSync('mdel', ['-i', mtoolsTarget(image, offset), `::${name}`], { env: mtoolsEnv, stdio: 'pipe' });
}

/** The bytes mtype reads for `name`. */
export function mtype(image: string, offset: number, name: string): Buffer {
  // stderr piped: on a block device mtools says "Could not get geometry" and carries on.
  return execFileSync('mtype', ['-i', mtoolsTarget(image, offset), `::${name}`], { env: mtoolsEnv, maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** mdir's listing of the root directory (long names at the end of each line). */
export function mdir(image: string, offset: number): string {
  return execFileSync('mdir', ['-i', mtoolsTarget(image, offset), '::'], { env: mtoolsEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Runs `fsck.fat -n` (check only) on the volume at `offset` of `image` (a block device or a
 * file; an offset volume is first copied out, as fsck.fat has no offset option).
 */
export function fsckFat(image: string, offset: number, sizeBytes: number, work: string): { code: number; output: string } {
  let target = image;
  if (offset !== 0) {
    target = join(work, 'fsck-copy.img');
    const from = openSync(image, 'r');
    const buffer = Buffer.alloc(sizeBytes);
    let done = 0;
    try {
      while (done < sizeBytes) {
        const n = readSync(from, buffer, done, sizeBytes - done, offset + done);
        if (n === 0) break;
        done += n;
      }
    } finally {
      closeSync(from);
    }
    writeFileSync(target, buffer.subarray(0, done));
  }
  const result = spawnSync('fsck.fat', ['-n', target], { encoding: 'utf8' });
  return { code: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

/**
 * Throws with fsck.fat's words unless it found nothing at all to say: a clean volume gets
 * the version line and the one-line summary, nothing else (every repair, even one -n
 * would not make, adds lines).
 */
export function expectFsckClean(image: string, offset: number, sizeBytes: number, work: string): void {
  const { code, output } = fsckFat(image, offset, sizeBytes, work);
  const lines = output.trim().split('\n').filter((line) => !line.startsWith('fsck.fat '));
  if (code !== 0 || lines.length !== 1 || !/: \d+ files, \d+\/\d+ clusters$/.test(lines[0] ?? '')) {
    throw new Error(`fsck.fat -n is not clean (exit ${code}):\n${output}`);
  }
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
