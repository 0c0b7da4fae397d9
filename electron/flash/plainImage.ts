/**
 * Plain (unsigned) disk images — `.img`, `.img.xz`, `.img.gz`, `.img.zst` — for when the
 * unsigned-image policy allows them. Nothing vouches for their bytes, so the writer keeps the
 * rest of the signed path's discipline: exclusive open, O_DIRECT aligned blocks, the first
 * block held back until the whole stream decoded cleanly, every written range hashed while
 * streaming and read back, the first MiB zeroed and "incomplete — do not use" on any failure.
 * All-zero blocks are skipped only when the caller says the drive may keep its old bytes there.
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import type { Compression } from '../../shared/image.ts';
import { plainImageExtensions } from '../../shared/flash.ts';
import { decompressStream } from '../kernel/image/decompressStream.ts';
import { decodeZstdFrames } from '../kernel/image/zeroFrames.ts';
import type { HashJob } from './hashWorker.ts';
import { blockSink, Cancelled, deviceSize, DriveWriter, fileBlocks, ImageReadError, incompleteLabel, isWriterError, openFailure, refuse, WriteQueue, type BlockHandler, type WriteProgress, type WrittenRange } from './driveWriter.ts';
import type { DriveWriteIncomplete, DriveWriteSuccess } from './writeImage.ts';

export type PlainImageInfo = {
  compression: Compression;
  /** Bytes of the disk image once decompressed, when the file says so reliably; null otherwise. */
  rawBytes: number | null;
  fileBytes: number;
};

export type WritePlainImageOptions = {
  imagePath: string;
  device: string;
  /** Leave all-zero 1 MiB blocks unwritten (the drive keeps whatever it held there). */
  skipZeroBlocks: boolean;
  signal?: AbortSignal;
  /**
   * Writing: raw image bytes the drive has taken (skipped zeros included) of the raw size — estimated
   * from the compressed bytes read so far when the file does not state it. Verifying: bytes
   * read back of bytes written.
   */
  onProgress?: (progress: WriteProgress) => void;
  /** false: buffered writes + fsync + `blockdev --flushbufs` even where O_DIRECT works. */
  directIo?: boolean;
  /** A device operation without an answer for this long fails the flash as "stopped responding" (default 60 s). */
  stallTimeoutMs?: number;
  /** TEST ONLY: runs after the flush, before the read-back (see writeImageToDrive). */
  beforeReadBack?: () => Promise<void>;
};

export type PlainWriteResult = (DriveWriteSuccess & { manifest: null; imageSha256: string }) | DriveWriteIncomplete;

/** Zero detection granularity when skipping: the block map's 1 MiB. */
const zeroCheckBytes = 1 << 20;
/** Read-back hashes cover at most this much each, so a difference is located to within it. */
const rangeCapBytes = 64 << 20;
/** gzip's ISIZE is the size mod 2^32; deflate expands at most ~1032:1, so below this it is exact. */
const gzipTrustedBelowBytes = Math.floor(2 ** 32 / 1032);

const zeros = Buffer.alloc(zeroCheckBytes);
const formatName: Record<Compression, string> = { none: 'raw', xz: 'xz', gz: 'gzip', zstd: 'zstd' };

/** The compression a plain image's name says, or null when it is not a plain image name. */
export function plainImageCompression(file: string): Compression | null {
  const lower = file.toLowerCase();
  const ext = [...plainImageExtensions].sort((a, b) => b.length - a.length).find((e) => lower.endsWith(e));
  if (ext === undefined) return null;
  return ext === '.img.xz' ? 'xz' : ext === '.img.gz' ? 'gz' : ext === '.img.zst' ? 'zstd' : 'none';
}

const magics: Record<Exclude<Compression, 'none'>, Buffer> = {
  xz: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
  gz: Buffer.from([0x1f, 0x8b]),
  zstd: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]),
};

/** Positioned reads of a file for header walks; short reads come back short. */
class FileReader {
  readonly fd: number;
  constructor(file: string) {
    this.fd = openSync(file, 'r');
  }
  at(position: number, length: number): Buffer {
    const bytes = Buffer.alloc(length);
    const n = readSync(this.fd, bytes, 0, length, position);
    return bytes.subarray(0, n);
  }
  close(): void {
    closeSync(this.fd);
  }
}

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
function xzRawSize(file: FileReader, fileBytes: number): number | null {
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
    if (start < 0 || !file.at(start, 6).equals(magics.xz)) return null;
    end = start;
  }
  return total;
}

/** A zstd file's frames in order; `size` is null where a frame does not state its content size. */
export type ZstdFrame = { offset: number; length: number; kind: 'data' | 'skippable'; size: number | null };

/**
 * Every frame of a zstd file, walking frame and block headers; null when the file is not a
 * well-formed run of frames (ends mid-frame, a reserved block type) — the decoder then says why.
 */
function zstdFrames(file: FileReader, fileBytes: number): ZstdFrame[] | null {
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
function zstdRawSize(frames: readonly ZstdFrame[] | null): number | null {
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

/** Non-zero runs of bytes[0, length) at zeroCheckBytes granularity: [from, to) offsets into bytes. */
function nonZeroPieces(bytes: Buffer): [number, number][] {
  const pieces: [number, number][] = [];
  for (let at = 0; at < bytes.length; at += zeroCheckBytes) {
    const end = Math.min(bytes.length, at + zeroCheckBytes);
    if (bytes.subarray(at, end).equals(zeros.subarray(0, end - at))) continue;
    const last = pieces.at(-1);
    if (last !== undefined && last[1] === at) last[1] = end;
    else pieces.push([at, end]);
  }
  return pieces;
}

/**
 * Written ranges with their SHA-256, built in stream order; contiguous pieces merge up to
 * rangeCapBytes. The hashing is the worker's: `take` hands over the jobs gathered since the
 * last call, and a range's `sha256` is filled in when its digest comes back.
 */
class RangeRecorder {
  readonly ranges: WrittenRange[] = [];
  private current: { offset: number; length: number; key: string } | null = null;
  private jobs: HashJob[] = [];
  private ending: WrittenRange[] = [];

  add(offset: number, bytes: Buffer): void {
    const current = this.current;
    if (current !== null && current.offset + current.length === offset && current.length + bytes.length <= rangeCapBytes) {
      this.jobs.push({ key: current.key, bytes });
      current.length += bytes.length;
      return;
    }
    this.finish();
    this.current = { offset, length: bytes.length, key: `written ${this.ranges.length + this.ending.length}` };
    this.jobs.push({ key: this.current.key, bytes });
  }

  finish(): void {
    if (this.current === null) return;
    const range = { offset: this.current.offset, length: this.current.length, sha256: '' };
    this.ranges.push(range);
    this.ending.push(range);
    this.jobs.push({ key: this.current.key, digest: true });
    this.current = null;
  }

  /** The jobs since the last call, and a function that files their digests (in order) under the ranges they end. */
  take(): { jobs: HashJob[]; file: (digests: readonly string[]) => void } {
    const { jobs, ending } = this;
    this.jobs = [];
    this.ending = [];
    return {
      jobs,
      file: (digests) => {
        for (const [i, range] of ending.entries()) range.sha256 = digests[i] ?? '';
      },
    };
  }
}

/**
 * Writes a plain image to `device`. Throws FieldkitError for refusals made before the drive
 * is opened (not a plain image, contents not what the name says, a drive smaller than the
 * stated raw size, drive busy or missing). Once writing has begun it never throws: 'success'
 * only after the whole stream decoded cleanly and every written range read back equal;
 * 'incomplete' otherwise, with the drive's first MiB zeroed.
 */
export async function writePlainImageToDrive(options: WritePlainImageOptions): Promise<PlainWriteResult> {
  const { imagePath, device } = options;
  const name = path.basename(imagePath);
  const info = await inspectPlainImage(imagePath);
  const size = await deviceSize(device).catch((cause: unknown) => {
    throw openFailure(device, cause);
  });
  if (info.rawBytes !== null && size < info.rawBytes) {
    throw refuse(`${device} holds ${size} bytes, less than the ${info.rawBytes} bytes of ${name}.`, 'Use a larger drive.');
  }

  const drive = await DriveWriter.open(device, size, { directIo: options.directIo, signal: options.signal, stallTimeoutMs: options.stallTimeoutMs });
  try {
    const emit = (progress: WriteProgress): void => options.onProgress?.(progress);
    // SHA-256 of the whole image and of each written range, both in the hash worker.
    const wholeKey = 'whole image';
    const recorder = new RangeRecorder();
    const hashJobs = async (jobs: readonly HashJob[], file: (digests: readonly string[]) => void): Promise<string[]> => {
      const digests = await drive.hasher.run(jobs);
      file(digests);
      return digests;
    };
    let rawWritten = 0;
    const queue = new WriteQueue(drive, (_start, end) => {
      rawWritten = Math.max(rawWritten, end);
      const total = info.rawBytes ?? Math.max(rawSeen, Math.round((rawSeen * info.fileBytes) / Math.max(1, fileRead)));
      emit({ phase: 'writing', bytesDone: rawWritten, bytesTotal: total });
    });
    // The first block (partition table) is written last, once the stream decoded to its end:
    // a truncated or corrupt file never leaves a bootable-looking half image.
    const held: { offset: number; bytes: Buffer }[] = [];
    let rawSeen = 0;
    let fileRead = 0;

    const handler: BlockHandler = {
      check: (chunk) => {
        rawSeen += chunk.length;
        if (rawSeen > size) return refuse(`${name} decompresses to more than the ${size} bytes ${device} holds: it does not fit.`, 'Use a larger drive.');
        if (info.rawBytes !== null && rawSeen > info.rawBytes) return refuse(`${name} decompresses to more than the ${info.rawBytes} bytes its ${formatName[info.compression]} header states: it is damaged.`, 'Copy or download the image again.', 'VERIFICATION_FAILED');
        return null;
      },
      onBlock: (start, bytes) => {
        if (options.signal?.aborted === true) throw new Cancelled();
        const pieces: [number, number][] = options.skipZeroBlocks ? nonZeroPieces(bytes) : [[0, bytes.length]];
        for (const [from, to] of pieces) {
          const piece = bytes.subarray(from, to);
          recorder.add(start + from, piece);
          if (start === 0) held.push({ offset: from, bytes: Buffer.from(piece) });
        }
        const { jobs, file } = recorder.take();
        const hashed = hashJobs([{ key: wholeKey, bytes }, ...jobs], file);
        return { pieces: start === 0 ? [] : pieces.map(([from, to]) => ({ from, to })), hashed };
      },
    };

    try {
      // A zstd file of several frames (pzstd, concatenated files) is decoded a frame at a time:
      // Node's decoder reads only the first frame of a stream.
      const frames = info.compression === 'zstd' ? readZstdFrames(imagePath) : null;
      const decompressor = frames !== null && frames.length > 1 ? decodeZstdFrames(frames.map((f) => ({ length: f.length, decode: f.kind === 'data' }))) : decompressStream(info.compression);
      if (decompressor === null) {
        await fileBlocks(imagePath, 0, info.fileBytes, queue, handler).catch((error: unknown) => {
          if (error instanceof ImageReadError) throw refuse(`${name} cannot be read: ${error.message}.`, 'Check the disk the image is on, or copy it again.', 'IO_ERROR');
          throw error;
        });
      } else {
        const tapFile = new Transform({
          transform(chunk: Buffer, _e, done) {
            fileRead += chunk.length;
            done(null, chunk);
          },
        });
        const input = createReadStream(imagePath, { highWaterMark: 1 << 20 });
        try {
          await pipeline(input, tapFile, decompressor, blockSink(queue, handler));
        } catch (error) {
          if (!(error instanceof Error) || isWriterError(error)) throw error;
          throw refuse(`${name} is truncated or damaged: its ${formatName[info.compression]} data does not decompress (${error.message}).`, "Copy or download the image again; check it against the publisher's SHA-256.", 'VERIFICATION_FAILED');
        }
      }
      await queue.drain();
      if (rawSeen === 0) throw refuse(`${name} decompresses to nothing.`, 'Copy or download the image again.', 'VERIFICATION_FAILED');
      if (info.rawBytes !== null && rawSeen !== info.rawBytes) {
        throw refuse(`${name} decompresses to ${rawSeen} bytes, but its ${formatName[info.compression]} header states ${info.rawBytes}: it is truncated or damaged.`, 'Copy or download the image again.', 'VERIFICATION_FAILED');
      }
      recorder.finish();
      const { jobs, file } = recorder.take();
      const digests = await hashJobs([...jobs, { key: wholeKey, digest: true }], file);
      const imageSha256 = digests.at(-1) ?? '';
      for (const piece of held) {
        const block = await queue.acquire();
        piece.bytes.copy(block);
        queue.submit(block, piece.offset, piece.bytes.length, { pieces: [{ from: 0, to: piece.bytes.length }] });
      }
      await queue.drain();
      emit({ phase: 'writing', bytesDone: rawSeen, bytesTotal: rawSeen });
      await drive.flush();
      if (options.beforeReadBack !== undefined) await options.beforeReadBack();
      const written = recorder.ranges.reduce((sum, r) => sum + r.length, 0);
      const bytesVerified = await drive.readBack(recorder.ranges, written, emit);
      return { status: 'success', device, manifest: null, rawBytes: rawSeen, imageSha256, bytesWritten: drive.bytesWritten, bytesVerified, directIo: drive.directIo };
    } catch (error) {
      const failure = await drive.failure(error);
      await drive.markIncomplete();
      return { status: 'incomplete', label: incompleteLabel, device, error: failure, bytesWritten: drive.bytesWritten, directIo: drive.directIo };
    }
  } finally {
    await drive.close();
  }
}
