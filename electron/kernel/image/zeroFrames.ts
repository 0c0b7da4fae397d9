/**
 * A sparse zstd payload in frames: every long gap between mapped ranges is packed as a zstd
 * frame of its own, listed in the manifest (`payload.zero_frames`), so a writer can pass it
 * by without decoding gigabytes of zeros that it would not write anyway. The frames are
 * plain concatenated zstd frames: `zstd -d` and any other decoder still read the payload
 * whole, and `fieldkit image verify` decodes every byte.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createZstdCompress, createZstdDecompress, constants as zlibConstants } from 'node:zlib';
import type { ImagePayload, MappedRange } from '../../../shared/image.ts';
import { decompressStream, zlibOptions } from './decompressStream.ts';

export type ZeroFrame = NonNullable<ImagePayload['zero_frames']>[number];
export type RawSpan = { offset: number; length: number };

/** A gap shorter than this stays inside its neighbours' frame: decoding it costs less than a frame. */
export const zeroFrameMinBytes = 4 << 20;
/** The manifest stays small: with more gaps than this, only the longest get frames. */
export const zeroFramesMax = 1024;

/** The unmapped gaps of a `rawSize`-byte image worth a frame of their own, in order. */
export function planZeroFrames(ranges: readonly MappedRange[], rawSize: number, minBytes = zeroFrameMinBytes, max = zeroFramesMax): RawSpan[] {
  const gaps: RawSpan[] = [];
  let at = 0;
  for (const range of [...ranges, { offset: rawSize, length: 0 }]) {
    if (range.offset - at >= minBytes) gaps.push({ offset: at, length: range.offset - at });
    at = Math.max(at, range.offset + range.length);
  }
  if (gaps.length <= max) return gaps;
  return [...gaps].sort((a, b) => b.length - a.length).slice(0, max).sort((a, b) => a.offset - b.offset);
}

/** Hands out the bytes of an ordered chunk stream in spans of any length. */
class ChunkCursor {
  private readonly source: AsyncIterator<Buffer>;
  private pending: Buffer | null = null;

  constructor(chunks: AsyncIterable<Buffer>) {
    this.source = chunks[Symbol.asyncIterator]();
  }

  /** The next `length` bytes (fewer only where the stream ends), as they come. */
  async *take(length: number): AsyncGenerator<Buffer> {
    let left = length;
    while (left > 0) {
      let chunk = this.pending;
      this.pending = null;
      if (chunk === null) {
        const next = await this.source.next();
        if (next.done === true) return;
        chunk = next.value;
      }
      if (chunk.length > left) {
        this.pending = chunk.subarray(left);
        chunk = chunk.subarray(0, left);
      }
      left -= chunk.length;
      yield chunk;
    }
  }

  /** Whatever is left. */
  async *rest(): AsyncGenerator<Buffer> {
    yield* this.take(Number.MAX_SAFE_INTEGER);
  }
}

/**
 * Compresses the raw image `chunks` into `out` as zstd, a frame of its own for each of
 * `gaps` (from planZeroFrames); returns the stored bytes' SHA-256 and size and where each
 * gap's frame sits.
 */
export async function compressZstdFramed(chunks: AsyncIterable<Buffer>, gaps: readonly RawSpan[], out: string, level: number): Promise<{ sha256: string; size: number; zeroFrames: ZeroFrame[] }> {
  const hash = createHash('sha256');
  const file = await open(out, 'w');
  let stored = 0;
  const cursor = new ChunkCursor(chunks);
  const frame = async (bytes: AsyncIterable<Buffer>): Promise<{ offset: number; length: number }> => {
    const offset = stored;
    const compressor = createZstdCompress({ params: { [zlibConstants.ZSTD_c_compressionLevel]: level, [zlibConstants.ZSTD_c_checksumFlag]: 1 } });
    await pipeline(
      Readable.from(bytes, { objectMode: false }),
      compressor,
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          stored += chunk.length;
          writeAll(file, chunk).then(() => {
            done();
          }, done);
        },
      }),
    );
    return { offset, length: stored - offset };
  };
  try {
    const zeroFrames: ZeroFrame[] = [];
    let raw = 0;
    for (const gap of gaps) {
      if (gap.offset > raw) await frame(cursor.take(gap.offset - raw));
      const written = await frame(cursor.take(gap.length));
      zeroFrames.push({ raw_offset: gap.offset, raw_length: gap.length, stored_offset: written.offset, stored_length: written.length });
      raw = gap.offset + gap.length;
    }
    // The rest, or the whole image when there is no gap (a frame even when empty: a payload is never 0 bytes).
    await frame(cursor.rest());
    await file.sync();
    return { sha256: hash.digest('hex'), size: stored, zeroFrames };
  } finally {
    await file.close();
  }
}

/** Writes all of `bytes` at the file's position: a write may take only part (a disk filling up). */
async function writeAll(file: FileHandle, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, at, bytes.length - at);
    if (bytesWritten === 0) throw new Error('the disk took no more bytes');
    at += bytesWritten;
  }
}

/** The stored payload's frames in order: the zero frames and the data frames between them. */
export function storedFrames(payload: ImagePayload): { offset: number; length: number; zero: boolean }[] {
  const frames: { offset: number; length: number; zero: boolean }[] = [];
  let at = 0;
  for (const zero of payload.zero_frames ?? []) {
    if (zero.stored_offset > at) frames.push({ offset: at, length: zero.stored_offset - at, zero: false });
    frames.push({ offset: zero.stored_offset, length: zero.stored_length, zero: true });
    at = zero.stored_offset + zero.stored_length;
  }
  if (payload.compressed_size > at) frames.push({ offset: at, length: payload.compressed_size - at, zero: false });
  return frames;
}

/**
 * Decodes a zstd stream given its frames in order, a fresh decoder per frame: Node's zstd
 * decoder (v24) reads only the first frame of a stream — the sync call silently drops the
 * rest, the stream fails with "Unknown frame descriptor". A frame with `decode: false` is
 * consumed but not decoded (a skippable frame, or a zero frame the caller passes by).
 */
export function decodeZstdFrames(frames: readonly { length: number; decode: boolean }[]): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* decode(source) {
    const cursor = new ChunkCursor(source);
    for (const frame of frames) {
      if (!frame.decode) {
        const bytes = cursor.take(frame.length);
        while ((await bytes.next()).done !== true) {
          // Consumed only: hashed upstream with the rest of the stored bytes, never decoded.
        }
        continue;
      }
      const decoder = createZstdDecompress(zlibOptions);
      const input = Readable.from(cursor.take(frame.length), { objectMode: false });
      input.on('error', (error) => decoder.destroy(error));
      input.pipe(decoder);
      try {
        for await (const chunk of decoder) yield chunk as Buffer;
      } finally {
        // Torn down with the pipeline (a refusal downstream, a cancel): whatever this decoder
        // still says then is no news, the pipeline already failed with the reason.
        decoder.on('error', () => undefined);
        input.unpipe(decoder);
        input.destroy();
        decoder.destroy();
      }
    }
    // Bytes past the last frame listed: not the stream the frames describe.
    for await (const chunk of cursor.rest()) if (chunk.length > 0) throw new Error('stored bytes follow the last frame');
  };
}

/**
 * Decodes a framed signed payload (one with zero_frames) from its stored bytes; with
 * `skipZeroFrames` the zero frames are consumed but not decoded, and the caller passes their
 * raw bytes by (blockSink's skips).
 */
export function decodeFramedZstd(payload: ImagePayload, options: { skipZeroFrames: boolean }): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return decodeZstdFrames(storedFrames(payload).map((f) => ({ length: f.length, decode: !(f.zero && options.skipZeroFrames) })));
}

/**
 * The decoder of a signed image's payload: a frame at a time when it lists zero frames (those
 * left undecoded with `skipZeroFrames`), else the one decompressor of its compression; null
 * when it is stored uncompressed.
 */
export function payloadDecoder(payload: ImagePayload, options: { skipZeroFrames: boolean }): Duplex | ((source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>) | null {
  if (payload.compression === 'zstd' && (payload.zero_frames ?? []).length > 0) return decodeFramedZstd(payload, options);
  return decompressStream(payload.compression);
}
