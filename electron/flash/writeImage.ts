/**
 * The writer core of a flash: a signed fieldkit image onto one block device. Before the device
 * is opened for writing, the manifest (signature, schema, expiry, board, sizes) is checked by
 * verifyImage and the stored payload is hashed against its signed SHA-256 (payloadPrecheck.ts),
 * so a tampered image leaves the card untouched. The payload is then streamed — tar member →
 * decompress → aligned blocks — hashing as it goes, and every byte of the image except free
 * filesystem space (writePlan.ts; with `writeAll`, every byte) is written and read back: data
 * ranges by their signed SHA-256, zeros as zeros. Free space left unwritten is discarded where
 * the drive supports it. Anything short of that full chain ends "incomplete — do not use".
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { Board, ImageManifest } from '../../shared/image.ts';
import type { MinisignPublicKey } from '../kernel/signing/minisignFormat.ts';
import { payloadDecoder } from '../kernel/image/zeroFrames.ts';
import { BlockMapChecker, type RangeMismatch } from '../kernel/image/rangeChecker.ts';
import { checkImageManifest, type VerifiedImage } from '../kernel/image/verifyImage.ts';
import { discardFree } from './discardFree.ts';
import { precheckPayload } from './payloadPrecheck.ts';
import { blockSink, type BlockHandler } from './writer/blockSink.ts';
import { deviceSize } from './writer/deviceSize.ts';
import { DriveWriter } from './writer/driveWriter.ts';
import { fileBlocks } from './writer/fileBlocks.ts';
import type { WriteProgress } from './writer/readBack.ts';
import { WriteQueue } from './writer/writeQueue.ts';
import { Cancelled, ImageReadError, isWriterError, openFailure, refuse } from './writer/writerErrors.ts';
import type { DriveWriteIncomplete, DriveWriteSuccess } from './writer/writeResult.ts';
import { piecesIn, planWrites, type WritePlan } from './writePlan.ts';

export type { SkippedFreeSpace } from './discardFree.ts';
export type { WriteProgress } from './writer/readBack.ts';
export { incompleteLabel } from './writer/writerErrors.ts';
export type { DriveWriteIncomplete, DriveWriteResult, DriveWriteSuccess } from './writer/writeResult.ts';

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
  /** A device operation without an answer for this long fails the flash as "stopped responding" (default 60 s). */
  stallTimeoutMs?: number;
  /** Write every byte of the image, free filesystem space too: the drive then equals the raw image up to its size. */
  writeAll?: boolean;
  /**
   * TEST ONLY: runs after the write is flushed and before the read-back, so a test can
   * corrupt the device in between and prove the read-back catches it. Production callers
   * never pass it.
   */
  beforeReadBack?: () => Promise<void>;
};

export type WriteImageResult = (DriveWriteSuccess & { manifest: ImageManifest }) | DriveWriteIncomplete;

/**
 * Writes `imagePath` to `device`. Throws FieldkitError for refusals made before any byte is
 * written (untrusted or altered manifest, altered payload, expired, too-small target, device
 * busy, cancelled while checking). Once writing has begun it never throws: the result is
 * 'success' only after every written byte read back from the device as the image has it (data
 * ranges by their signed SHA-256, zeros as zeros), and 'incomplete' otherwise, with the drive's
 * first MiB zeroed.
 */
export async function writeImageToDrive(options: WriteImageOptions): Promise<WriteImageResult> {
  const { imagePath, device } = options;
  const name = path.basename(imagePath);
  const emit = (progress: WriteProgress): void => options.onProgress?.(progress);
  const { verified, size } = await checkBeforeWriting(options, emit);
  const { manifest } = verified;
  const { payload } = manifest;

  const drive = await DriveWriter.open(device, size, { directIo: options.directIo, signal: options.signal, stallTimeoutMs: options.stallTimeoutMs });
  try {
    const plan = planWrites(manifest, options.writeAll === true);
    const total = plan.writeBytes;
    const queue = new WriteQueue(drive, () => {
      emit({ phase: 'writing', bytesDone: drive.bytesWritten, bytesTotal: total });
    });
    const blocks = signedBlocks(name, manifest, plan, drive, options.signal);
    try {
      await streamPayload(imagePath, verified, queue, blocks.handler);
      if (blocks.rawSeen() !== payload.raw_size) throw refuse(`${name}'s disk image decompresses to ${blocks.rawSeen()} bytes, the signed manifest says ${payload.raw_size}.`, 'Do not use this image; get it again from its publisher.', 'VERIFICATION_FAILED');
      await queue.drain();
      await blocks.complete();
      const head = blocks.held();
      if (head !== null) {
        const block = await queue.acquire();
        head.copy(block);
        queue.submit(block, 0, head.length, { pieces: piecesIn(plan.write, 0, head.length).map((piece) => ({ from: piece.offset, to: piece.offset + piece.length })) });
        await queue.drain();
      }
      emit({ phase: 'writing', bytesDone: drive.bytesWritten, bytesTotal: total });
      await drive.flush();
      const freeSpace = await discardFree(device, drive.isBlock, plan.skipped, options.signal).catch((error: unknown) => {
        throw options.signal?.aborted === true ? new Cancelled() : error;
      });
      if (options.beforeReadBack !== undefined) await options.beforeReadBack();
      const bytesVerified = await drive.readBack(plan.readBack, total, emit);
      return { status: 'success', device, manifest, rawBytes: blocks.rawSeen(), imageSha256: null, bytesWritten: drive.bytesWritten, bytesVerified, directIo: drive.directIo, freeSpace };
    } catch (error) {
      return await drive.incomplete(error);
    }
  } finally {
    await drive.close();
  }
}

/**
 * Every check made before the drive is opened for writing: the signed manifest, the drive's
 * size, the file's length, and the stored payload against its signed SHA-256 — a tampered
 * image never touches the card.
 */
async function checkBeforeWriting(options: WriteImageOptions, emit: (progress: WriteProgress) => void): Promise<{ verified: VerifiedImage; size: number }> {
  const { imagePath, device } = options;
  const name = path.basename(imagePath);
  const verified = await checkImageManifest(imagePath, { trustedKeys: options.trustedKeys, board: options.board, now: options.now, checkPayload: false });
  const { payload } = verified.manifest;
  const size = await deviceSize(device).catch((cause: unknown) => {
    throw openFailure(device, cause);
  });
  if (size < payload.raw_size) {
    throw refuse(`${device} holds ${size} bytes, less than the ${payload.raw_size} bytes of ${name}.`, 'Use a larger drive.');
  }
  if ((await stat(imagePath)).size < verified.payload.offset + verified.payload.size) {
    throw refuse(`${name} is shorter than its disk image member: truncated.`, 'Copy or download the image again.', 'VERIFICATION_FAILED');
  }
  await precheckPayload(imagePath, verified.payload, payload.sha256, {
    signal: options.signal,
    onProgress: (bytesDone, bytesTotal) => {
      emit({ phase: 'checking', bytesDone, bytesTotal });
    },
  }).catch((error: unknown) => {
    if (error instanceof Cancelled) throw new FieldkitError(appError('CANCELLED', `The flash of ${device} was cancelled while checking ${name}, before anything was written.`, 'The drive is unchanged.'));
    throw error;
  });
  return { verified, size };
}

/**
 * What the signed writer does with each block of the raw image: every byte checked against
 * the signed block map as it streams, the planned pieces written, and the first write block
 * (partition table, boot selector) held back — written last, only after the whole payload
 * matched its signed hashes: until then the card has no valid partition table and cannot
 * boot as a half-written image.
 */
function signedBlocks(name: string, manifest: ImageManifest, plan: WritePlan, drive: DriveWriter, signal: AbortSignal | undefined) {
  const { payload } = manifest;
  const ranges = manifest.block_map.ranges;
  const held: { first: Buffer | null } = { first: null };
  let rawSeen = 0;
  // No hash of the whole raw image: the signed range hashes plus the zero check of every
  // unmapped byte (BlockMapChecker) already pin down each raw byte, and hashing the zeros of
  // a mostly empty card again cost a quarter of the flash time (bench/flashWrite.ts).
  const checker = new BlockMapChecker(ranges, drive.hasher);
  const mismatch = (found: RangeMismatch): FieldkitError =>
    refuse(
      `${name}'s disk image does not match its signed block map: ${found.kind === 'range' ? `the ${found.range.length} bytes at byte ${found.range.offset} differ from their signed SHA-256` : `byte ${found.offset}, outside every mapped range, is not zero`}.`,
      'Do not flash this image; get it again from its publisher.',
      'VERIFICATION_FAILED',
    );
  const tooLong = (): FieldkitError => refuse(`${name}'s disk image decompresses to more than the ${payload.raw_size} bytes its manifest says.`, 'Do not flash this image; get it again from its publisher.', 'VERIFICATION_FAILED');
  const handler: BlockHandler = {
    check: (chunk) => {
      rawSeen += chunk.length;
      if (rawSeen > payload.raw_size) return tooLong();
      // An unmapped stretch may need no block at all: cancel is noticed here, not only in onBlock.
      if (signal?.aborted === true) return new Cancelled();
      checker.checkZeros(chunk);
      // A non-zero unmapped byte, or a range digest that came back different since the last chunk.
      if (checker.mismatch !== null) return mismatch(checker.mismatch);
      return null;
    },
    skip: (start, length) => {
      rawSeen += length;
      if (rawSeen > payload.raw_size) return tooLong();
      if (signal?.aborted === true) return new Cancelled();
      if (piecesIn(ranges, start, start + length).length > 0) {
        return refuse(`${name}'s manifest lists a zero frame at byte ${start} that overlaps its mapped data.`, 'Do not flash this image; get it again from its publisher.', 'VERIFICATION_FAILED');
      }
      checker.skip(length);
      return null;
    },
    // Data and the zeros outside free space; a zero frame's zeros are filled in, not decoded (blockSink).
    needed: (start, end) => piecesIn(plan.write, start, end).map((piece) => [piece.offset, piece.offset + piece.length] as const),
    onBlock: (start, bytes) => {
      if (signal?.aborted === true) throw new Cancelled();
      const hashed = checker.hashBlock(start, bytes);
      if (start === 0) {
        held.first = Buffer.from(bytes);
        return { pieces: [], hashed };
      }
      return { pieces: piecesIn(plan.write, start, start + bytes.length).map((piece) => ({ from: piece.offset - start, to: piece.offset - start + piece.length })), hashed };
    },
  };
  return {
    handler,
    /** Raw bytes seen so far, skipped zero frames included. */
    rawSeen: () => rawSeen,
    /** The held-back first block. */
    held: () => held.first,
    /** Throws unless every range's digest matched (after the queue drained). */
    complete: async (): Promise<void> => {
      if (await checker.complete()) return;
      if (checker.mismatch !== null) throw mismatch(checker.mismatch);
      throw refuse(`${name}'s decompressed disk image does not match its signed SHA-256.`, 'Do not use this image; get it again from its publisher.', 'VERIFICATION_FAILED');
    },
  };
}

/** The payload member of the image, decoded into the queue's blocks; the stored bytes checked against the signed SHA-256 as they stream. */
async function streamPayload(imagePath: string, verified: VerifiedImage, queue: WriteQueue, handler: BlockHandler): Promise<void> {
  const name = path.basename(imagePath);
  const { payload } = verified.manifest;
  if (payload.compression === 'none') {
    // No second SHA-256 of the stored payload while streaming (the pre-check hashed it before
    // the drive was opened): uncompressed, the payload *is* the raw image, and
    // BlockMapChecker ties every byte read now to the signed manifest — a byte in a mapped
    // range to that range's SHA-256, a byte outside every range to zero — and the count to
    // raw_size (checked after, as the range hashes are, before the held-back first block
    // goes out). A byte changed since the pre-check therefore fails one of those. For
    // compressed payloads the streaming stored hash stays: it covers bytes no range hash
    // sees (the compressed stream itself).
    await fileBlocks(imagePath, verified.payload.offset, verified.payload.size, queue, handler).catch((error: unknown) => {
      if (error instanceof ImageReadError) throw refuse(`${name} cannot be read: ${error.message}.`, 'Check the disk the image is on, or copy it again.', 'IO_ERROR');
      throw error;
    });
    return;
  }
  const stored = createHash('sha256');
  const tapStored = new Transform({
    transform(chunk: Buffer, _e, done) {
      stored.update(chunk);
      done(null, chunk);
    },
  });
  const input = createReadStream(imagePath, { start: verified.payload.offset, end: verified.payload.offset + verified.payload.size - 1, highWaterMark: 4 << 20 });
  // Zero frames are hashed with the rest of the stored bytes but never decoded (zeroFrames.ts).
  const frames = payload.compression === 'zstd' ? (payload.zero_frames ?? []) : [];
  const decompressor = payloadDecoder(payload, { skipZeroFrames: true });
  try {
    if (decompressor === null) throw new Error(`no decoder for ${payload.compression}`);
    await pipeline(input, tapStored, decompressor, blockSink(queue, handler, frames.map((f) => ({ offset: f.raw_offset, length: f.raw_length }))));
  } catch (error) {
    if (!(error instanceof Error) || isWriterError(error)) throw error;
    // A stored hash that already differs explains a decompression failure better than the decoder can.
    const damaged = stored.copy().digest('hex') !== payload.sha256;
    throw refuse(`${name}'s disk image does not decompress (${payload.compression}): ${error.message}${damaged ? '; its bytes differ from the signed SHA-256' : ''}.`, 'Do not use this image; get it again from its publisher.', 'VERIFICATION_FAILED');
  }
  const storedHex = stored.digest('hex');
  if (storedHex !== payload.sha256) throw refuse(`${name}'s disk image was altered: its SHA-256 is ${storedHex}, the signed manifest says ${payload.sha256}.`, 'Do not use this image; get it again from its publisher.', 'VERIFICATION_FAILED');
}
