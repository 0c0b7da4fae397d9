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
import { appError, FieldkitError, type AppError } from '../../shared/errors.ts';
import type { Board, ImageManifest } from '../../shared/image.ts';
import type { MinisignPublicKey } from '../kernel/signing/minisignFormat.ts';
import { payloadDecoder } from '../kernel/image/zeroFrames.ts';
import { blockSink, Cancelled, deviceSize, DriveWriter, fileBlocks, ImageReadError, incompleteLabel, isWriterError, openFailure, refuse, WriteQueue, type BlockHandler, type SkippedFreeSpace, type WriteProgress } from './driveWriter.ts';
import { discardFree } from './discardFree.ts';
import { precheckPayload } from './payloadPrecheck.ts';
import { piecesIn, planWrites } from './writePlan.ts';
import { BlockMapChecker, type RangeMismatch } from '../kernel/image/rangeChecker.ts';
import { checkImageManifest } from '../kernel/image/verifyImage.ts';

export { deviceSize, incompleteLabel, writeBlockBytes, type SkippedFreeSpace, type WriteProgress } from './driveWriter.ts';

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

/**
 * What a write ended as, for signed and plain images alike: the flash job handles one type.
 * A success carries the signed manifest (null for a plain image) and the raw image's size and
 * SHA-256 (the plain writer hashes the whole image; the signed one relies on its range hashes).
 */
export type DriveWriteSuccess = {
  status: 'success';
  device: string;
  manifest: ImageManifest | null;
  rawBytes: number;
  /** SHA-256 of the whole raw image as streamed; null for signed images (the manifest has raw_sha256). */
  imageSha256: string | null;
  bytesWritten: number;
  bytesVerified: number;
  directIo: boolean;
  /** Signed images: the free filesystem space left unwritten, and whether the drive discarded it. */
  freeSpace?: SkippedFreeSpace;
};
export type DriveWriteIncomplete = { status: 'incomplete'; label: typeof incompleteLabel; device: string; error: AppError; bytesWritten: number; directIo: boolean };
export type DriveWriteResult = DriveWriteSuccess | DriveWriteIncomplete;
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
  const emit = (progress: WriteProgress): void => options.onProgress?.(progress);
  // The stored bytes against the signed SHA-256, before the drive is opened: a tampered image never touches the card.
  await precheckPayload(imagePath, verified.payload, payload.sha256, {
    signal: options.signal,
    onProgress: (bytesDone, bytesTotal) => {
      emit({ phase: 'checking', bytesDone, bytesTotal });
    },
  }).catch((error: unknown) => {
    if (error instanceof Cancelled) throw new FieldkitError(appError('CANCELLED', `The flash of ${device} was cancelled while checking ${name}, before anything was written.`, 'The drive is unchanged.'));
    throw error;
  });

  const drive = await DriveWriter.open(device, size, { directIo: options.directIo, signal: options.signal, stallTimeoutMs: options.stallTimeoutMs });
  try {
    const ranges = manifest.block_map.ranges;
    const plan = planWrites(manifest, options.writeAll === true);
    const total = plan.writeBytes;
    const queue = new WriteQueue(drive, () => {
      emit({ phase: 'writing', bytesDone: drive.bytesWritten, bytesTotal: total });
    });

    // The first write block (partition table, boot selector) is held back and written last,
    // only after the whole payload matched its signed hashes: until then the card has no
    // valid partition table and cannot boot as a half-written image.
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
    const handler: BlockHandler = {
      check: (chunk) => {
        rawSeen += chunk.length;
        if (rawSeen > payload.raw_size) return refuse(`${name}'s disk image decompresses to more than the ${payload.raw_size} bytes its manifest says.`, 'Do not flash this image; get it again from its publisher.', 'VERIFICATION_FAILED');
        // An unmapped stretch may need no block at all: cancel is noticed here, not only in onBlock.
        if (options.signal?.aborted === true) return new Cancelled();
        checker.checkZeros(chunk);
        // A non-zero unmapped byte, or a range digest that came back different since the last chunk.
        if (checker.mismatch !== null) return mismatch(checker.mismatch);
        return null;
      },
      skip: (start, length) => {
        rawSeen += length;
        if (rawSeen > payload.raw_size) return refuse(`${name}'s disk image decompresses to more than the ${payload.raw_size} bytes its manifest says.`, 'Do not flash this image; get it again from its publisher.', 'VERIFICATION_FAILED');
        if (options.signal?.aborted === true) return new Cancelled();
        if (piecesIn(ranges, start, start + length).length > 0) {
          return refuse(`${name}'s manifest lists a zero frame at byte ${start} that overlaps its mapped data.`, 'Do not flash this image; get it again from its publisher.', 'VERIFICATION_FAILED');
        }
        checker.skip(length);
        return null;
      },
      // Data and the zeros outside free space; a zero frame's zeros are filled in, not decoded (blockSink).
      needed: (start, end) => piecesIn(plan.write, start, end).map((piece) => [piece.offset, piece.offset + piece.length] as const),
      onBlock: (start, bytes) => {
        if (options.signal?.aborted === true) throw new Cancelled();
        const hashed = checker.hashBlock(start, bytes);
        if (start === 0) {
          held.first = Buffer.from(bytes);
          return { pieces: [], hashed };
        }
        return { pieces: piecesIn(plan.write, start, start + bytes.length).map((piece) => ({ from: piece.offset - start, to: piece.offset - start + piece.length })), hashed };
      },
    };
    const altered = (detail: string): FieldkitError => refuse(`${name}'s disk image was altered: ${detail}.`, 'Do not use this image; get it again from its publisher.', 'VERIFICATION_FAILED');

    try {
      if (payload.compression === 'none') {
        // No second SHA-256 of the stored payload while streaming (the pre-check hashed it before
        // the drive was opened): uncompressed, the payload *is* the raw image, and
        // BlockMapChecker ties every byte read now to the signed manifest — a byte in a mapped
        // range to that range's SHA-256, a byte outside every range to zero — and the count to
        // raw_size (checked below, as the range hashes are, before the held-back first block
        // goes out). A byte changed since the pre-check therefore fails one of those. For
        // compressed payloads the streaming stored hash stays: it covers bytes no range hash
        // sees (the compressed stream itself).
        await fileBlocks(imagePath, verified.payload.offset, verified.payload.size, queue, handler).catch((error: unknown) => {
          if (error instanceof ImageReadError) throw refuse(`${name} cannot be read: ${error.message}.`, 'Check the disk the image is on, or copy it again.', 'IO_ERROR');
          throw error;
        });
      } else {
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
        if (storedHex !== payload.sha256) throw altered(`its SHA-256 is ${storedHex}, the signed manifest says ${payload.sha256}`);
      }
      if (rawSeen !== payload.raw_size) throw refuse(`${name}'s disk image decompresses to ${rawSeen} bytes, the signed manifest says ${payload.raw_size}.`, 'Do not use this image; get it again from its publisher.', 'VERIFICATION_FAILED');
      await queue.drain();
      if (!(await checker.complete())) {
        if (checker.mismatch !== null) throw mismatch(checker.mismatch);
        throw refuse(`${name}'s decompressed disk image does not match its signed SHA-256.`, 'Do not use this image; get it again from its publisher.', 'VERIFICATION_FAILED');
      }
      const head = held.first;
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
      return { status: 'success', device, manifest, rawBytes: rawSeen, imageSha256: null, bytesWritten: drive.bytesWritten, bytesVerified, directIo: drive.directIo, freeSpace };
    } catch (error) {
      const failure = await drive.failure(error);
      await drive.markIncomplete();
      return { status: 'incomplete', label: incompleteLabel, device, error: failure, bytesWritten: drive.bytesWritten, directIo: drive.directIo };
    }
  } finally {
    await drive.close();
  }
}
