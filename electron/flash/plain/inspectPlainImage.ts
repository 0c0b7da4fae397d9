/**
 * What a plain (unsigned) disk image is before anything is written — `.img`, `.img.xz`,
 * `.img.gz`, `.img.zst`: its compression, from the name and checked against the file's magic
 * bytes, and its raw size where the file states it reliably.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Compression } from '../../../shared/image.ts';
import { plainImageExtensions } from '../../../shared/flash.ts';
import { refuse } from '../writer/writerErrors.ts';
import { FileReader } from './fileReader.ts';
import { xzMagic, xzRawSize } from './xzIndex.ts';
import { zstdFrames, zstdRawSize } from './zstdFrames.ts';

export type PlainImageInfo = {
  compression: Compression;
  /** Bytes of the disk image once decompressed, when the file says so reliably; null otherwise. */
  rawBytes: number | null;
  fileBytes: number;
};

/** gzip's ISIZE is the size mod 2^32; deflate expands at most ~1032:1, so below this it is exact. */
const gzipTrustedBelowBytes = Math.floor(2 ** 32 / 1032);

export const formatName: Record<Compression, string> = { none: 'raw', xz: 'xz', gz: 'gzip', zstd: 'zstd' };

/** The compression a plain image's name says, or null when it is not a plain image name. */
export function plainImageCompression(file: string): Compression | null {
  const lower = file.toLowerCase();
  const ext = [...plainImageExtensions].sort((a, b) => b.length - a.length).find((e) => lower.endsWith(e));
  if (ext === undefined) return null;
  return ext === '.img.xz' ? 'xz' : ext === '.img.gz' ? 'gz' : ext === '.img.zst' ? 'zstd' : 'none';
}

const magics: Record<Exclude<Compression, 'none'>, Buffer> = {
  xz: xzMagic,
  gz: Buffer.from([0x1f, 0x8b]),
  zstd: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]),
};

/**
 * What a plain image is before anything is written: its compression (from the name, checked
 * against the file's magic bytes), its raw size where the file states it reliably (the xz
 * index, zstd frame content sizes, gzip's ISIZE only for small files, the file size of a .img),
 * and the file's size. Throws FieldkitError for a name that is not a plain image, a missing
 * file, or contents that are not what the name says.
 */
export async function inspectPlainImage(imagePath: string): Promise<PlainImageInfo> {
  const name = path.basename(imagePath);
  const compression = plainImageCompression(imagePath);
  if (compression === null) {
    throw refuse(`${name} is not a plain disk image: the name must end in ${plainImageExtensions.join(', ')}.`, 'Pick a .img (optionally .xz, .gz or .zst compressed), or a signed .fkimg image.');
  }
  const info = await stat(imagePath).catch((cause: unknown) => {
    const code = (cause as NodeJS.ErrnoException).code;
    throw refuse(`${name} cannot be read: ${code ?? (cause as Error).message}.`, 'Check the path, then pick the image again.', code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR');
  });
  if (!info.isFile()) throw refuse(`${name} is not a file.`, 'Pick the image file itself.');
  const fileBytes = info.size;
  if (fileBytes === 0) throw refuse(`${name} is empty.`, 'Copy or download the image again.', 'VERIFICATION_FAILED');
  if (compression === 'none') return { compression, rawBytes: fileBytes, fileBytes };
  const file = new FileReader(imagePath);
  try {
    const magic = magics[compression];
    if (!file.at(0, magic.length).equals(magic)) {
      throw refuse(`${name} is not ${formatName[compression]}-compressed, as its name says.`, 'Rename it to what it is, or copy or download it again.', 'VERIFICATION_FAILED');
    }
    if (compression === 'xz') return { compression, rawBytes: xzRawSize(file, fileBytes), fileBytes };
    if (compression === 'zstd') return { compression, rawBytes: zstdRawSize(zstdFrames(file, fileBytes)), fileBytes };
    const isize = fileBytes >= 18 && fileBytes < gzipTrustedBelowBytes ? file.at(fileBytes - 4, 4).readUInt32LE(0) : null;
    return { compression, rawBytes: isize, fileBytes };
  } finally {
    file.close();
  }
}
