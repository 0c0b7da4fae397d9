/**
 * A real, tiny ext4 filesystem on a loop device (root only), so disk-full is a real
 * ENOSPC from the kernel rather than a simulation. `fill()` takes every free block with a
 * filler file; `free()` gives them back.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './tempDir.ts';

export type TinyFilesystem = { mountPoint: string; fill(): void; free(): void; remove(): void };

export function mountTinyFilesystem(sizeMiB = 8): TinyFilesystem {
  const dir = makeTempDir('fieldkit-tinyfs-');
  const image = join(dir.path, 'fs.img');
  const mountPoint = join(dir.path, 'mnt');
  mkdirSync(mountPoint);
  execFileSync('truncate', ['-s', `${sizeMiB}M`, image]);
  // -m 0: no blocks reserved for root (the tests run as root and must hit the real limit).
  execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
  execFileSync('mount', ['-o', 'loop', image, mountPoint]);
  const filler = join(mountPoint, 'filler');
  return {
    mountPoint,
    fill() {
      const fd = openSync(filler, 'a');
      const block = Buffer.alloc(4096, 0x5a);
      try {
        for (;;) writeSync(fd, block);
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'ENOSPC') throw error;
      } finally {
        closeSync(fd);
      }
      // Take the last partial block too.
      const tail = openSync(filler, 'a');
      try {
        for (;;) writeSync(tail, Buffer.alloc(1));
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'ENOSPC') throw error;
      } finally {
        closeSync(tail);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    remove() {
      try {
        execFileSync('umount', [mountPoint]);
      } finally {
        dir.remove();
      }
    },
  };
}
