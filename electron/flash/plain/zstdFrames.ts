/** A zstd file's frames, walked from their headers: their raw sizes, and where each one is (a multi-frame file is decoded a frame at a time). */
import { fstatSync } from 'node:fs';
import { FileReader } from './fileReader.ts';

/** A zstd file's frames in order; `size` is null where a frame does not state its content size. */
export type ZstdFrame = { offset: number; length: number; kind: 'data' | 'skippable'; size: number | null };

/**
 * Every frame of a zstd file, walking frame and block headers; null when the file is not a
 * well-formed run of frames (ends mid-frame, a reserved block type) — the decoder then says why.
 */
export function zstdFrames(file: FileReader, fileBytes: number): ZstdFrame[] | null {
  const frames: ZstdFrame[] = [];
  let at = 0;
  while (at < fileBytes) {
    const start = at;
    const head = file.at(at, 18);
    if (head.length < 8) return null;
    const magic = head.readUInt32LE(0);
    if (magic >>> 4 === 0x184d2a5) {
      at += 8 + head.readUInt32LE(4);
      frames.push({ offset: start, length: at - start, kind: 'skippable', size: 0 });
      continue;
    }
    if (magic !== 0xfd2fb528) return null;
    const descriptor = head[4] ?? 0;
    const fcsFlag = descriptor >> 6;
    const singleSegment = (descriptor >> 5) & 1;
    const hasChecksum = (descriptor >> 2) & 1;
    const dictBytes = [0, 1, 2, 4][descriptor & 3] ?? 0;
    const fcsBytes = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag] ?? 0;
    const fcsAt = 5 + (singleSegment === 1 ? 0 : 1) + dictBytes;
    if (head.length < fcsAt + fcsBytes) return null;
    const size = fcsBytes === 0 ? null : fcsBytes === 1 ? head.readUInt8(fcsAt) : fcsBytes === 2 ? head.readUInt16LE(fcsAt) + 256 : fcsBytes === 4 ? head.readUInt32LE(fcsAt) : Number(head.readBigUInt64LE(fcsAt));
    at += fcsAt + fcsBytes;
    for (;;) {
      const block = file.at(at, 3);
      if (block.length < 3) return null;
      const value = block.readUIntLE(0, 3);
      const type = (value >> 1) & 3;
      if (type === 3) return null;
      at += 3 + (type === 1 ? 1 : value >>> 3);
      if ((value & 1) === 1) break;
    }
    at += hasChecksum * 4;
    frames.push({ offset: start, length: at - start, kind: 'data', size });
  }
  return at === fileBytes ? frames : null;
}

/** The sum of every zstd frame's content size; null when a frame does not state its size or the walk fails. */
export function zstdRawSize(frames: readonly ZstdFrame[] | null): number | null {
  if (frames === null || frames.some((f) => f.size === null)) return null;
  return frames.reduce((sum, f) => sum + (f.size ?? 0), 0);
}

/** The frames of the zstd file at `imagePath` (see zstdFrames). */
export function readZstdFrames(imagePath: string): ZstdFrame[] | null {
  const file = new FileReader(imagePath);
  try {
    return zstdFrames(file, fstatSync(file.fd).size);
  } finally {
    file.close();
  }
}
