/**
 * Plain (unsigned) disk images — `.img`, `.img.xz`, `.img.gz`, `.img.zst` — for when the
 * unsigned-image policy allows them. Nothing vouches for their bytes, so the writer keeps the
 * rest of the signed path's discipline: exclusive open, O_DIRECT aligned blocks, the first
 * block held back until the whole stream decoded cleanly, every written range hashed while
 * streaming and read back, the first MiB zeroed and "incomplete — do not use" on any failure.
 * All-zero blocks are skipped only when the caller says the drive may keep its old bytes there.
 * What the image is comes from plain/inspectPlainImage.ts.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompressStream } from '../kernel/image/decompressStream.ts';
import { decodeZstdFrames } from '../kernel/image/zeroFrames.ts';
import { formatName, inspectPlainImage, type PlainImageInfo } from './plain/inspectPlainImage.ts';
import { nonZeroPieces, RangeRecorder } from './plain/rangeRecorder.ts';
import { readZstdFrames } from './plain/zstdFrames.ts';
import { blockSink, type BlockHandler } from './writer/blockSink.ts';
import { deviceSize } from './writer/deviceSize.ts';
import { DriveWriter } from './writer/driveWriter.ts';
import { fileBlocks } from './writer/fileBlocks.ts';
import type { HashJob } from './writer/hashWorker.ts';
import type { WriteProgress } from './writer/readBack.ts';
import { WriteQueue } from './writer/writeQueue.ts';
import { Cancelled, ImageReadError, isWriterError, openFailure, refuse } from './writer/writerErrors.ts';
import type { DriveWriteIncomplete, DriveWriteSuccess } from './writer/writeResult.ts';

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
    const blocks = plainBlocks(options, info, size, drive);
    let rawWritten = 0;
    const queue = new WriteQueue(drive, (_start, end) => {
      rawWritten = Math.max(rawWritten, end);
      const total = info.rawBytes ?? Math.max(blocks.seen.raw, Math.round((blocks.seen.raw * info.fileBytes) / Math.max(1, blocks.seen.file)));
      emit({ phase: 'writing', bytesDone: rawWritten, bytesTotal: total });
    });
    try {
      await decodeInto(imagePath, info, queue, blocks.handler, blocks.seen);
      await queue.drain();
      const rawSeen = blocks.seen.raw;
      if (rawSeen === 0) throw refuse(`${name} decompresses to nothing.`, 'Copy or download the image again.', 'VERIFICATION_FAILED');
      if (info.rawBytes !== null && rawSeen !== info.rawBytes) {
        throw refuse(`${name} decompresses to ${rawSeen} bytes, but its ${formatName[info.compression]} header states ${info.rawBytes}: it is truncated or damaged.`, 'Copy or download the image again.', 'VERIFICATION_FAILED');
      }
      const imageSha256 = await blocks.finish();
      for (const piece of blocks.held) {
        const block = await queue.acquire();
        piece.bytes.copy(block);
        queue.submit(block, piece.offset, piece.bytes.length, { pieces: [{ from: 0, to: piece.bytes.length }] });
      }
      await queue.drain();
      emit({ phase: 'writing', bytesDone: rawSeen, bytesTotal: rawSeen });
      await drive.flush();
      if (options.beforeReadBack !== undefined) await options.beforeReadBack();
      const written = blocks.recorder.ranges.reduce((sum, r) => sum + r.length, 0);
      const bytesVerified = await drive.readBack(blocks.recorder.ranges, written, emit);
      return { status: 'success', device, manifest: null, rawBytes: rawSeen, imageSha256, bytesWritten: drive.bytesWritten, bytesVerified, directIo: drive.directIo };
    } catch (error) {
      return await drive.incomplete(error);
    }
  } finally {
    await drive.close();
  }
}

/** How far the decoding got: raw bytes out, file bytes in (for the estimated total of a file that does not state its size). */
type Seen = { raw: number; file: number };

/**
 * What the plain writer does with each block: sizes checked against the drive and the stated
 * raw size, all-zero pieces skipped when allowed, each written piece recorded with its hash
 * (and the whole image hashed) in the hash worker, and the first block (partition table)
 * held back — written last, once the stream decoded to its end: a truncated or corrupt file
 * never leaves a bootable-looking half image.
 */
function plainBlocks(options: WritePlainImageOptions, info: PlainImageInfo, size: number, drive: DriveWriter) {
  const { device } = options;
  const name = path.basename(options.imagePath);
  // SHA-256 of the whole image and of each written range, both in the hash worker.
  const wholeKey = 'whole image';
  const recorder = new RangeRecorder();
  const hashJobs = async (jobs: readonly HashJob[], file: (digests: readonly string[]) => void): Promise<string[]> => {
    const digests = await drive.hasher.run(jobs);
    file(digests);
    return digests;
  };
  const held: { offset: number; bytes: Buffer }[] = [];
  const seen: Seen = { raw: 0, file: 0 };
  const handler: BlockHandler = {
    check: (chunk) => {
      seen.raw += chunk.length;
      if (seen.raw > size) return refuse(`${name} decompresses to more than the ${size} bytes ${device} holds: it does not fit.`, 'Use a larger drive.');
      if (info.rawBytes !== null && seen.raw > info.rawBytes) return refuse(`${name} decompresses to more than the ${info.rawBytes} bytes its ${formatName[info.compression]} header states: it is damaged.`, 'Copy or download the image again.', 'VERIFICATION_FAILED');
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
  return {
    handler,
    seen,
    held,
    recorder,
    /** Ends the last range and the whole-image hash; the image's SHA-256. */
    finish: async (): Promise<string> => {
      recorder.finish();
      const { jobs, file } = recorder.take();
      const digests = await hashJobs([...jobs, { key: wholeKey, digest: true }], file);
      return digests.at(-1) ?? '';
    },
  };
}

/** The image file decoded into the queue's blocks: read straight into them when uncompressed, else through its decompressor. */
async function decodeInto(imagePath: string, info: PlainImageInfo, queue: WriteQueue, handler: BlockHandler, seen: Seen): Promise<void> {
  const name = path.basename(imagePath);
  // A zstd file of several frames (pzstd, concatenated files) is decoded a frame at a time:
  // Node's decoder reads only the first frame of a stream.
  const frames = info.compression === 'zstd' ? readZstdFrames(imagePath) : null;
  const decompressor = frames !== null && frames.length > 1 ? decodeZstdFrames(frames.map((f) => ({ length: f.length, decode: f.kind === 'data' }))) : decompressStream(info.compression);
  if (decompressor === null) {
    await fileBlocks(imagePath, 0, info.fileBytes, queue, handler).catch((error: unknown) => {
      if (error instanceof ImageReadError) throw refuse(`${name} cannot be read: ${error.message}.`, 'Check the disk the image is on, or copy it again.', 'IO_ERROR');
      throw error;
    });
    return;
  }
  const tapFile = new Transform({
    transform(chunk: Buffer, _e, done) {
      seen.file += chunk.length;
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
