/** The raw size an xz file states in its index: the xz part of inspecting a plain image. */
import { crc32 } from 'node:zlib';
import type { FileReader } from './fileReader.ts';

export const xzMagic = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** An xz multibyte integer at `at`: [value, bytes used], or null when malformed. */
function xzVarint(bytes: Buffer, at: number): [number, number] | null {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    const byte = bytes[at + i];
    if (byte === undefined) return null;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return [value, i + 1];
  }
  return null;
}

/**
 * The uncompressed size from the xz index of each stream, walking back from the end of the
 * file (concatenated streams and stream padding included); null when anything is off.
 */
export function xzRawSize(file: FileReader, fileBytes: number): number | null {
  let end = fileBytes;
  let total = 0;
  while (end > 0) {
    // Stream padding: zero bytes, a multiple of four.
    while (end >= 4 && file.at(end - 4, 4).equals(Buffer.alloc(4))) end -= 4;
    if (end === 0) break;
    if (end < 32) return null;
    const footer = file.at(end - 12, 12);
    if (footer.length !== 12 || footer[10] !== 0x59 || footer[11] !== 0x5a) return null;
    const indexBytes = (footer.readUInt32LE(4) + 1) * 4;
    if (indexBytes > end - 24 || indexBytes > 64 << 20) return null;
    const index = file.at(end - 12 - indexBytes, indexBytes);
    if (index.length !== indexBytes || index[0] !== 0x00) return null;
    if (crc32(index.subarray(0, indexBytes - 4)) !== index.readUInt32LE(indexBytes - 4)) return null;
    const count = xzVarint(index, 1);
    if (count === null) return null;
    let at = 1 + count[1];
    let blocksBytes = 0;
    for (let i = 0; i < count[0]; i++) {
      const unpadded = xzVarint(index, at);
      if (unpadded === null) return null;
      const uncompressed = xzVarint(index, at + unpadded[1]);
      if (uncompressed === null) return null;
      at += unpadded[1] + uncompressed[1];
      blocksBytes += Math.ceil(unpadded[0] / 4) * 4;
      total += uncompressed[0];
    }
    const start = end - 12 - indexBytes - blocksBytes - 12;
    if (start < 0 || !file.at(start, 6).equals(xzMagic)) return null;
    end = start;
  }
  return total;
}
