/**
 * The device side of a flash, shared by the signed writer (writeImage.ts) and the plain one
 * (plainImage.ts): open the drive exclusively, O_DIRECT from page-aligned buffers
 * (alignedBlocks.ts), write, flush, read back every written range (readBack.ts), and zero the
 * first MiB when anything went wrong. Errors name the drive, and a drive that went away
 * mid-write is told apart from a bad image (writerErrors.ts).
 *
 * The steps overlap rather than run in turn (a CPU profile of the sequential writer was 45%
 * idle waiting on I/O): `WriteQueue` (writeQueue.ts) rotates the aligned blocks, so the
 * O_DIRECT write of one block runs on libuv's pool while the next is decompressed, hashed and
 * filled — from a stream (blockSink.ts) or straight from an image file (fileBlocks.ts); the
 * read-back keeps reads in flight while the main thread hashes the block before them.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { AppError } from '../../../shared/errors.ts';
import { alignedBlocks, alignment, sharedBlocks } from './alignedBlocks.ts';
import { HashScope } from './hashWorker.ts';
import { readBack, type WriteProgress, type WrittenRange } from './readBack.ts';
import { Cancelled, DriveIoError, incompleteLabel, openFailure, writeFailure } from './writerErrors.ts';
import type { DriveWriteIncomplete } from './writeResult.ts';

const run = promisify(execFile);

/** Zeroed on failure: holds the MBR / protective MBR + GPT header the Pi firmware boots from. */
const markBytes = 1 << 20;
/**
 * A single 4 MiB write or read that has not returned after this long means the drive stopped
 * answering. Healthy SD cards pause for garbage collection, but for a second or two, not a minute.
 */
export const defaultStallTimeoutMs = 60_000;
/** How long a failed flash waits for a still-pending device operation before leaving the drive unmarked. */
const settleMs = 2_000;

export type DriveOpenOptions = {
  /** false: buffered writes + fsync + `blockdev --flushbufs` even where O_DIRECT works (bench/flashWrite.ts measures both). */
  directIo?: boolean;
  /** Cancels the flash even while a device operation is stuck. */
  signal?: AbortSignal;
  /** Default defaultStallTimeoutMs. */
  stallTimeoutMs?: number;
};

/**
 * An open target drive: the exclusive writer, and where the platform allows, an O_DIRECT
 * writer and reader sharing `blockCount` aligned 4 MiB blocks.
 */
export class DriveWriter {
  readonly device: string;
  readonly size: number;
  readonly isBlock: boolean;
  /** The aligned (when direct) 4 MiB buffers every write and read-back goes through. */
  readonly blocks: readonly Buffer[];
  /** SHA-256 of the blocks, off the main thread. */
  readonly hasher = new HashScope();
  bytesWritten = 0;
  private readonly writer: FileHandle;
  private readonly direct: FileHandle | null;
  private reader: FileHandle | null;
  private readonly signal: AbortSignal | undefined;
  private readonly stallTimeoutMs: number;
  /** Device operations that have not returned yet (one, unless the drive got stuck and we moved on). */
  private readonly pending = new Set<Promise<unknown>>();
  /** A pending operation outlasted settleMs once: later cleanup steps do not wait again. */
  private stuck = false;

  private constructor(device: string, size: number, isBlock: boolean, writer: FileHandle, direct: FileHandle | null, reader: FileHandle | null, blocks: readonly Buffer[], options: DriveOpenOptions) {
    this.signal = options.signal;
    this.stallTimeoutMs = options.stallTimeoutMs ?? defaultStallTimeoutMs;
    this.device = device;
    this.size = size;
    this.isBlock = isBlock;
    this.writer = writer;
    this.direct = direct;
    this.reader = reader;
    this.blocks = blocks;
  }

  get directIo(): boolean {
    return this.direct !== null;
  }

  /**
   * Opens `device` for writing. Throws FieldkitError (nothing written) when it is busy,
   * missing or not ours to write. `directIo: false` forces buffered writes + fsync +
   * `blockdev --flushbufs` (bench/flashWrite.ts measures both).
   */
  static async open(device: string, size: number, options: DriveOpenOptions = {}): Promise<DriveWriter> {
    // O_EXCL on a block device: the kernel refuses (EBUSY) while a partition is mounted or
    // another O_EXCL holder has it, so we never write under a mounted filesystem.
    const isBlock = (await stat(device).catch((cause: unknown) => {
      throw openFailure(device, cause);
    })).isBlockDevice();
    const writer = await open(device, constants.O_WRONLY | (isBlock ? constants.O_EXCL : 0)).catch((cause: unknown) => {
      throw openFailure(device, cause);
    });
    let reader: FileHandle | null = null;
    let direct: FileHandle | null = null;
    let blocks: Buffer[] | null = null;
    try {
      // O_DIRECT (Linux): written bytes go to the device, not the page cache, so the
      // read-back reads the card, not our own cache; and a 1 GiB flash does not evict the
      // laptop's page cache. Measured on zram (bench/flashWrite.ts, 512 MiB raw, 164 MiB
      // mapped, write + read-back, best of 3): O_DIRECT 529 MB/s, buffered writes + fsync +
      // flushbufs 485 MB/s (an earlier build: 223 vs 162). Where the device refuses O_DIRECT
      // (EINVAL on the probe) or on other platforms: buffered writes + fsync, then
      // `blockdev --flushbufs` before the read-back.
      if (isBlock && process.platform === 'linux' && options.directIo !== false) {
        reader = await open(device, constants.O_RDONLY | constants.O_DIRECT).catch(() => null);
        if (reader !== null) {
          blocks = await alignedBlocks(reader);
          if (blocks !== null) {
            // Opened without O_EXCL: the exclusive writer above already holds the device.
            direct = await open(device, constants.O_WRONLY | constants.O_DIRECT);
          } else {
            await reader.close();
            reader = null;
          }
        }
      }
    } catch (error) {
      await reader?.close().catch(() => undefined);
      await writer.close().catch(() => undefined);
      throw openFailure(device, error);
    }
    blocks ??= sharedBlocks();
    return new DriveWriter(device, size, isBlock, writer, direct, reader, blocks, options);
  }

  /**
   * Awaits a device operation, but gives up on it when the flash is cancelled or the drive
   * stops answering: a pulled USB reader can leave a write blocked in the kernel, and neither
   * cancel nor the result may wait for it. The operation keeps its libuv thread until the
   * kernel lets go; `pending` remembers it so the cleanup does not queue behind it.
   */
  private async guard<T>(operation: Promise<T>, offset: number, doing: DriveIoError['doing'], stallTimer = true): Promise<T> {
    const tracked = operation.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    tracked.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const giveUp = new Promise<never>((_resolve, reject) => {
      if (stallTimer) {
        timer = setTimeout(() => {
          reject(new DriveIoError(Object.assign(new Error(`no answer for ${Math.round(this.stallTimeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }), offset, doing));
        }, this.stallTimeoutMs);
      }
      onAbort = () => {
        reject(new Cancelled());
      };
      if (this.signal?.aborted === true) onAbort();
      else this.signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([tracked, giveUp]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) this.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** False when a device operation is still blocked after a short wait: the drive is not answering. */
  private async settled(): Promise<boolean> {
    if (this.pending.size === 0) return true;
    if (this.stuck) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      Promise.allSettled([...this.pending]).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          resolve(true);
        }, settleMs);
      }),
    ]);
    clearTimeout(timer);
    this.stuck = late;
    return !late;
  }

  /** Writes `bytes` at device `offset`: O_DIRECT when offset and length align, buffered for a ragged tail. */
  async put(bytes: Buffer, offset: number): Promise<void> {
    const aligned = offset % alignment === 0 && bytes.length % alignment === 0;
    const handle = aligned ? (this.direct ?? this.writer) : this.writer;
    let done = 0;
    try {
      while (done < bytes.length) {
        const { bytesWritten } = await this.guard(handle.write(bytes, done, bytes.length - done, offset + done), offset + done, 'writing');
        // A block device past its end takes nothing rather than failing on some kernels.
        if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        done += bytesWritten;
      }
    } catch (error) {
      if (error instanceof DriveIoError || error instanceof Cancelled) throw error;
      throw new DriveIoError(error, offset + done, 'writing');
    }
    this.bytesWritten += bytes.length;
  }

  /** Everything written reaches the device before the read-back reads it. */
  async flush(): Promise<void> {
    try {
      // Buffered writes are only now pushed to the card, which may take long: no stall timer then.
      await this.guard(this.writer.sync(), this.bytesWritten, 'flushing', this.direct !== null);
      if (this.direct !== null) await this.guard(this.direct.sync(), this.bytesWritten, 'flushing');
      // Without O_DIRECT the read-back would be served from the page cache we just filled;
      // Node has no posix_fadvise, so drop the device's buffers (needs root, as writing does).
      if (this.reader === null && this.isBlock) await run('blockdev', ['--flushbufs', this.device]);
    } catch (error) {
      if (error instanceof DriveIoError || error instanceof Cancelled) throw error;
      throw new DriveIoError(error, this.bytesWritten, 'flushing');
    }
  }

  /** Fills `buffer[0, want)` from device offset `at` (reads can come back short); the bytes read. */
  private async readFull(reader: FileHandle, buffer: Buffer, want: number, at: number): Promise<number> {
    let got = 0;
    try {
      while (got < want) {
        const { bytesRead } = await this.guard(reader.read(buffer, got, want - got, at + got), at + got, 'reading back');
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch (error) {
      if (error instanceof DriveIoError || error instanceof Cancelled) throw error;
      throw new DriveIoError(error, at + got, 'reading back');
    }
    return got;
  }

  /** Reads each written range back and compares it (readBack.ts); the bytes read back. */
  async readBack(ranges: readonly WrittenRange[], total: number, emit: (p: WriteProgress) => void): Promise<number> {
    this.reader ??= await open(this.device, constants.O_RDONLY);
    const reader = this.reader;
    return readBack(
      {
        device: this.device,
        size: this.size,
        signal: this.signal,
        blocks: this.blocks,
        hasher: this.hasher,
        read: (buffer, want, at) => this.readFull(reader, buffer, want, at),
      },
      ranges,
      total,
      emit,
    );
  }

  /** The AppError a failure during writing ends with; the drive is named in every one. */
  async failure(error: unknown): Promise<AppError> {
    return writeFailure({ device: this.device, size: this.size, bytesWritten: this.bytesWritten, signal: this.signal }, error);
  }

  /** A write that failed with `error` ends here: the drive's first MiB zeroed, the result "incomplete — do not use". */
  async incomplete(error: unknown): Promise<DriveWriteIncomplete> {
    const failure = await this.failure(error);
    await this.markIncomplete();
    return { status: 'incomplete', label: incompleteLabel, device: this.device, error: failure, bytesWritten: this.bytesWritten, directIo: this.directIo };
  }

  /**
   * Zeros the first MiB: the MBR (or protective MBR and primary GPT header) and, in our A/B
   * layout, the boot selector's start. Without them the Pi firmware finds no partition and the
   * card cannot boot as though it held a good image — an older image's table, or ours half
   * written, must not survive a failed flash. Best effort: a drive that went away cannot be marked.
   */
  async markIncomplete(): Promise<void> {
    // A drive still sitting on an earlier write would only queue this one behind it.
    if (!(await this.settled())) return;
    try {
      const zeros = Buffer.alloc(markBytes);
      let done = 0;
      while (done < zeros.length) {
        const { bytesWritten } = await this.writer.write(zeros, done, zeros.length - done, done);
        if (bytesWritten === 0) return;
        done += bytesWritten;
      }
      await this.writer.sync();
      if (this.isBlock) await run('blockdev', ['--flushbufs', this.device]);
    } catch {
      // The result already says incomplete; the drive may be gone.
    }
  }

  async close(): Promise<void> {
    await this.hasher.close();
    const closeAll = async (): Promise<void> => {
      await this.direct?.close().catch(() => undefined);
      await this.reader?.close().catch(() => undefined);
      await this.writer.close().catch(() => undefined);
    };
    // FileHandle.close waits for pending operations: a stuck drive's handles close whenever
    // the kernel lets go of it, without holding up the result.
    if (await this.settled()) await closeAll();
    else void Promise.allSettled([...this.pending]).then(closeAll);
  }
}
