/**
 * The writer core of a flash: a signed fieldkit image onto one block device. The manifest
 * (signature, schema, expiry, board, sizes) is checked by verifyImage before the device is
 * opened for writing; the payload is then streamed once — tar member → decompress → aligned
 * blocks — writing only the block map's mapped ranges, hashing as it goes, and every mapped
 * range is read back from the device and compared. Anything short of that full chain ends
 * "incomplete — do not use", never success.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import { mappedBytes, type Board, type ImageManifest, type MappedRange } from '../../shared/image.ts';
import type { MinisignPublicKey } from '../signing/minisignFormat.ts';
import { RangeChecker } from './rangeChecker.ts';
import { checkImageManifest } from './verifyImage.ts';

const run = promisify(execFile);

/** 4 MiB: the top of the 1-4 MiB range; SD cards erase in 4 MiB allocation units. */
export const writeBlockBytes = 4 << 20;
/** The most any O_DIRECT buffer alignment needs (logical block sizes are 512 or 4096). */
const alignment = 4096;
/** Zeroed on failure: holds the MBR / protective MBR + GPT header the Pi firmware boots from. */
const markBytes = 1 << 20;
/** zlib's default 16 KiB output chunks cost one stream write each: 32768 per 512 MiB. */
const decompressChunkBytes = 1 << 20;

export const incompleteLabel = 'incomplete — do not use';

export type WriteProgress = { phase: 'writing' | 'verifying'; bytesDone: number; bytesTotal: number };

export type WriteImageOptions = {
  imagePath: string;
  device: string;
  trustedKeys: readonly MinisignPublicKey[];
  signal?: AbortSignal;
  onProgress?: (progress: WriteProgress) => void;
  board?: Board;
  now?: Date;
  /** false: buffered writes + fsync + `blockdev --flushbufs` even where O_DIRECT works (bench/flashWrite.ts measures both). */
  directIo?: boolean;
  /**
   * TEST ONLY: runs after the write is flushed and before the read-back, so a test can
   * corrupt the device in between and prove the read-back catches it. Production callers
   * never pass it.
   */
  beforeReadBack?: () => Promise<void>;
};

export type WriteImageResult =
  | { status: 'success'; device: string; manifest: ImageManifest; bytesWritten: number; bytesVerified: number; directIo: boolean }
  | { status: 'incomplete'; label: typeof incompleteLabel; device: string; error: AppError; bytesWritten: number; directIo: boolean };

function refuse(message: string, hint: string, code: AppError['code'] = 'BAD_REQUEST'): FieldkitError {
  return new FieldkitError(appError(code, message, hint));
}

/** The device's size in bytes: sysfs for block devices (stat says 0 for them), stat for files. */
export async function deviceSize(device: string): Promise<number> {
  const info = await stat(device);
  if (!info.isBlockDevice()) return info.size;
  try {
    const sectors = await readFile(`/sys/class/block/${path.basename(device)}/size`, 'utf8');
    return Number(sectors.trim()) * 512;
  } catch {
    const { stdout } = await run('blockdev', ['--getsize64', device]);
    return Number(stdout.trim());
  }
}

/**
 * A buffer usable with O_DIRECT. Node cannot allocate aligned memory nor report a buffer's
 * address; Buffer backing stores come from malloc ("page + 16" at best). Trying offsets and
 * keeping the one whose O_DIRECT read succeeds does not work: zram (and other devices with a
 * loose DMA alignment) accept every offset, and on this kernel such unaligned direct reads
 * overwrote malloc's chunk header (the process aborted with "munmap_chunk(): invalid
 * pointer"). A WebAssembly.Memory's backing store is mapped with mmap and so page-aligned,
 * and it never moves while it is not grown: a Buffer over it is aligned at offset 0.
 * One 4 KiB direct read from the device confirms the device takes O_DIRECT at all.
 */
/** The tsconfig has no WebAssembly lib types; only Memory is used. */
const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number }) => { buffer: ArrayBuffer } } }).WebAssembly;

async function alignedBuffer(probe: FileHandle, bytes: number): Promise<Buffer | null> {
  const pages = Math.ceil(bytes / 65536);
  const slab = Buffer.from(new wasm.Memory({ initial: pages, maximum: pages }).buffer).subarray(0, bytes);
  try {
    await probe.read(slab, 0, alignment, 0);
    return slab;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return null;
    throw error;
  }
}

/** Pieces of [start, end) that fall inside mapped ranges. */
function mappedPieces(ranges: readonly MappedRange[], start: number, end: number): { offset: number; length: number }[] {
  const pieces: { offset: number; length: number }[] = [];
  for (const range of ranges) {
    const a = Math.max(start, range.offset);
    const b = Math.min(end, range.offset + range.length);
    if (range.offset >= end) break;
    if (b > a) pieces.push({ offset: a, length: b - a });
  }
  return pieces;
}

class Cancelled extends Error {}

function openFailure(device: string, cause: unknown): FieldkitError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
  if (code === 'EBUSY') return refuse(`${device} is in use (mounted or opened by another program): ${code}.`, 'Unmount every partition of the drive and close programs using it, then try again.', 'CONFLICT');
  if (code === 'EACCES' || code === 'EPERM') return refuse(`No permission to write ${device}: ${code}.`, 'Flashing needs administrator rights; start the flash again and allow it.', 'PERMISSION_DENIED');
  return refuse(`Cannot open ${device}: ${(cause as Error).message}.`, 'Check that the drive is still connected, then try again.', 'IO_ERROR');
}

/**
 * Writes `imagePath` to `device`. Throws FieldkitError for refusals made before any byte is
 * written (untrusted or altered manifest, expired, too-small target, device busy). Once
 * writing has begun it never throws: the result is 'success' only after every mapped range
 * read back from the device matched its signed SHA-256, and 'incomplete' otherwise, with the
 * drive's first MiB zeroed.
 */
export async function writeImageToDrive(options: WriteImageOptions): Promise<WriteImageResult> {
  const { imagePath, device } = options;
  const name = path.basename(imagePath);
  // Every signed check happens before the device is opened for writing.
  const verified = await checkImageManifest(imagePath, { trustedKeys: options.trustedKeys, board: options.board, now: options.now, checkPayload: false });
  const { manifest } = verified;
  const { payload } = manifest;
  const size = await deviceSize(device).catch((cause: unknown) => {
    throw openFailure(device, cause);
  });
  if (size < payload.raw_size) {
    throw refuse(`${device} holds ${size} bytes, less than the ${payload.raw_size} bytes of ${name}.`, 'Use a larger drive.');
  }
  if ((await stat(imagePath)).size < verified.payload.offset + verified.payload.size) {
    throw refuse(`${name} is shorter than its disk image member: truncated.`, 'Copy or download the image again.', 'VERIFICATION_FAILED');
  }
  if (payload.compression === 'xz') throw refuse('xz-compressed fieldkit images are not supported yet.', 'Pack the raw image with `fieldkit image pack` (zstd).');

  // O_EXCL on a block device: the kernel refuses (EBUSY) while a partition is mounted or
  // another O_EXCL holder has it, so we never write under a mounted filesystem.
  const isBlock = (await stat(device)).isBlockDevice();
  const exclusive = isBlock ? constants.O_EXCL : 0;
  const writer = await open(device, constants.O_WRONLY | exclusive).catch((cause: unknown) => {
    throw openFailure(device, cause);
  });
  let direct: FileHandle | null = null;
  let reader: FileHandle | null = null;
  let bytesWritten = 0;
  let buffer: Buffer | null = null;
  try {
    // O_DIRECT (Linux): written bytes go to the device, not the page cache, so the
    // read-back below reads the card, not our own cache; and a 1 GiB flash does not
    // evict the laptop's page cache. Measured on zram (bench/flashWrite.ts, 512 MiB raw,
    // 164 MiB mapped, write + read-back, best of 3): O_DIRECT 529 MB/s, buffered writes +
    // fsync + flushbufs 485 MB/s (an earlier build: 223 vs 162). Where the device refuses
    // O_DIRECT (EINVAL on the probe) or on other platforms: buffered writes + fsync, then
    // `blockdev --flushbufs` before the read-back.
    if (isBlock && process.platform === 'linux' && options.directIo !== false) {
      reader = await open(device, constants.O_RDONLY | constants.O_DIRECT).catch(() => null);
      if (reader !== null) {
        buffer = await alignedBuffer(reader, writeBlockBytes);
        if (buffer !== null) {
          // Opened without O_EXCL: the exclusive writer above already holds the device.
          direct = await open(device, constants.O_WRONLY | constants.O_DIRECT);
        } else {
          await reader.close();
          reader = null;
        }
      }
    }
    buffer ??= Buffer.allocUnsafeSlow(writeBlockBytes);
    const block: Buffer = buffer;
    const ranges = manifest.block_map.ranges;
    const total = mappedBytes(manifest.block_map);
    const emit = (progress: WriteProgress): void => options.onProgress?.(progress);

    /** Writes block[0, length) at device `offset`: O_DIRECT when sizes align, buffered for a ragged tail. */
    const put = async (bytes: Buffer, offset: number): Promise<void> => {
      const aligned = direct !== null && offset % alignment === 0 && bytes.length % alignment === 0;
      const handle = aligned && direct !== null ? direct : writer;
      let done = 0;
      while (done < bytes.length) done += (await handle.write(bytes, done, bytes.length - done, offset + done)).bytesWritten;
    };

    // The first write block (partition table, boot selector) is held back and written last,
    // only after the whole payload matched its signed hashes: until then the card has no
    // valid partition table and cannot boot as a half-written image.
    const held: { first: Buffer | null } = { first: null };
    let blockStart = 0;
    let fill = 0;
    let rawSeen = 0;
    const stored = createHash('sha256');
    // No hash of the whole raw image: the signed range hashes plus the zero check of every
    // unmapped byte (RangeChecker) already pin down each raw byte, and hashing the zeros of a
    // mostly empty card again cost a quarter of the flash time (bench/flashWrite.ts).
    const checker = new RangeChecker(ranges);

    const flushBlock = async (): Promise<void> => {
      if (fill === 0) return;
      if (options.signal?.aborted === true) throw new Cancelled();
      if (blockStart === 0) {
        held.first = Buffer.from(block.subarray(0, fill));
      } else {
        for (const piece of mappedPieces(ranges, blockStart, blockStart + fill)) {
          await put(block.subarray(piece.offset - blockStart, piece.offset - blockStart + piece.length), piece.offset);
          bytesWritten += piece.length;
        }
        emit({ phase: 'writing', bytesDone: bytesWritten, bytesTotal: total });
      }
      blockStart += fill;
      fill = 0;
    };

    const tapStored = new Transform({
      transform(chunk: Buffer, _e, done) {
        stored.update(chunk);
        done(null, chunk);
      },
    });
    const sink = new Writable({
      highWaterMark: writeBlockBytes,
      write(chunk: Buffer, _e, done) {
        rawSeen += chunk.length;
        if (rawSeen > payload.raw_size) {
          done(refuse(`${name}'s disk image decompresses to more than the ${payload.raw_size} bytes its manifest says.`, 'Do not flash this image; get it again from its publisher.', 'VERIFICATION_FAILED'));
          return;
        }
        checker.update(chunk);
        if (checker.mismatch !== null) {
          done(refuse(`${name}'s disk image does not match its signed block map near byte ${rawSeen}.`, 'Do not flash this image; get it again from its publisher.', 'VERIFICATION_FAILED'));
          return;
        }
        void (async () => {
          let at = 0;
          while (at < chunk.length) {
            const take = Math.min(chunk.length - at, writeBlockBytes - fill);
            chunk.copy(block, fill, at, at + take);
            fill += take;
            at += take;
            if (fill === writeBlockBytes) await flushBlock();
          }
        })().then(() => {
          done();
        }, done);
      },
      final(done) {
        flushBlock().then(() => {
          done();
        }, done);
      },
    });

    try {
      const input = createReadStream(imagePath, { start: verified.payload.offset, end: verified.payload.offset + verified.payload.size - 1, highWaterMark: 1 << 20 });
      const decompressor = payload.compression === 'zstd' ? createZstdDecompress({ chunkSize: decompressChunkBytes }) : payload.compression === 'gz' ? createGunzip({ chunkSize: decompressChunkBytes }) : null;
      if (decompressor === null) await pipeline(input, tapStored, sink);
      else await pipeline(input, tapStored, decompressor, sink);
      const storedHex = stored.digest('hex');
      if (storedHex !== payload.sha256) throw refuse(`${name}'s disk image was altered: its SHA-256 is ${storedHex}, the signed manifest says ${payload.sha256}.`, 'Do not use this image; get it again from its publisher.', 'VERIFICATION_FAILED');
      if (rawSeen !== payload.raw_size) throw refuse(`${name}'s disk image decompresses to ${rawSeen} bytes, the signed manifest says ${payload.raw_size}.`, 'Do not use this image; get it again from its publisher.', 'VERIFICATION_FAILED');
      if (!checker.complete()) throw refuse(`${name}'s decompressed disk image does not match its signed SHA-256.`, 'Do not use this image; get it again from its publisher.', 'VERIFICATION_FAILED');
      const head = held.first;
      if (head !== null) {
        const headBuffer = block.subarray(0, head.length);
        head.copy(headBuffer);
        for (const piece of mappedPieces(ranges, 0, head.length)) {
          await put(headBuffer.subarray(piece.offset, piece.offset + piece.length), piece.offset);
          bytesWritten += piece.length;
        }
        emit({ phase: 'writing', bytesDone: bytesWritten, bytesTotal: total });
      }
      await writer.sync();
      if (direct !== null) await direct.sync();
      // Without O_DIRECT the read-back would be served from the page cache we just filled;
      // Node has no posix_fadvise, so drop the device's buffers (needs root, as writing does).
      if (reader === null && isBlock) await run('blockdev', ['--flushbufs', device]);
      if (options.beforeReadBack !== undefined) await options.beforeReadBack();
      reader ??= await open(device, constants.O_RDONLY);
      const bytesVerified = await readBack(reader, block, ranges, total, device, options.signal, emit);
      return { status: 'success', device, manifest, bytesWritten, bytesVerified, directIo: direct !== null };
    } catch (error) {
      const failure: AppError =
        error instanceof Cancelled || options.signal?.aborted === true
          ? appError('CANCELLED', `The flash of ${device} was cancelled after ${bytesWritten} bytes; the drive is ${incompleteLabel}.`, 'Flash it again before using it.')
          : isFieldkitError(error)
            ? error.appError
            : appError('IO_ERROR', `Writing ${device} failed after ${bytesWritten} bytes: ${(error as Error).message}.`, 'Check that the drive is still connected, then flash it again; if it keeps failing, replace the card.');
      await markIncomplete(writer, device);
      return { status: 'incomplete', label: incompleteLabel, device, error: failure, bytesWritten, directIo: direct !== null };
    }
  } finally {
    await direct?.close();
    await reader?.close();
    await writer.close();
  }
}

/** Reads each mapped range back in aligned blocks and compares its SHA-256; throws on the first difference. */
async function readBack(reader: FileHandle, block: Buffer, ranges: readonly MappedRange[], total: number, device: string, signal: AbortSignal | undefined, emit: (p: WriteProgress) => void): Promise<number> {
  let done = 0;
  emit({ phase: 'verifying', bytesDone: 0, bytesTotal: total });
  for (const range of ranges) {
    const hash = createHash('sha256');
    let at = range.offset;
    const end = range.offset + range.length;
    while (at < end) {
      if (signal?.aborted === true) throw new Cancelled();
      // O_DIRECT reads must be whole aligned blocks: read rounded up, hash only the range's bytes.
      const want = Math.min(writeBlockBytes, Math.ceil((end - at) / alignment) * alignment);
      const { bytesRead } = await reader.read(block, 0, want, at);
      if (bytesRead === 0) throw refuse(`${device} ended at byte ${at} while reading back the image.`, 'The drive is smaller than it claimed (counterfeit?); use another drive.', 'IO_ERROR');
      const useful = Math.min(bytesRead, end - at);
      hash.update(block.subarray(0, useful));
      at += useful;
      done += useful;
      emit({ phase: 'verifying', bytesDone: done, bytesTotal: total });
    }
    if (hash.digest('hex') !== range.sha256) {
      throw refuse(`Reading back ${device}: the ${range.length} bytes at byte ${range.offset} differ from what was written.`, 'The drive did not keep what was written: it is faulty or counterfeit. Use another drive.', 'VERIFICATION_FAILED');
    }
  }
  return done;
}

/**
 * Zeros the first MiB: the MBR (or protective MBR and primary GPT header) and, in our A/B
 * layout, the boot selector's start. Without them the Pi firmware finds no partition and the
 * card cannot boot as though it held a good image — an older image's table, or ours half
 * written, must not survive a failed flash. Best effort: a drive that went away cannot be marked.
 */
async function markIncomplete(writer: FileHandle, device: string): Promise<void> {
  try {
    const zeros = Buffer.alloc(markBytes);
    let done = 0;
    while (done < zeros.length) done += (await writer.write(zeros, done, zeros.length - done, done)).bytesWritten;
    await writer.sync();
    if ((await stat(device)).isBlockDevice()) await run('blockdev', ['--flushbufs', device]);
  } catch {
    // The result already says incomplete; the drive may be gone.
  }
}
