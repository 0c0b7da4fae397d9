/**
 * The device side of a flash, shared by the signed writer (writeImage.ts) and the plain one
 * (plainImage.ts): open the drive exclusively, O_DIRECT from a page-aligned buffer, a
 * stream of raw bytes cut into aligned write blocks with the first one held back, flush,
 * read-back of every written range, and the first MiB zeroed when anything went wrong.
 * Errors name the drive, and a drive that went away mid-write is told apart from a bad image.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import { formatBytes } from '../../shared/format.ts';

const run = promisify(execFile);

/** 4 MiB: the top of the 1-4 MiB range; SD cards erase in 4 MiB allocation units. */
export const writeBlockBytes = 4 << 20;
/** The most any O_DIRECT buffer alignment needs (logical block sizes are 512 or 4096). */
const alignment = 4096;
/** Zeroed on failure: holds the MBR / protective MBR + GPT header the Pi firmware boots from. */
const markBytes = 1 << 20;
/**
 * A single 4 MiB write or read that has not returned after this long means the drive stopped
 * answering. Healthy SD cards pause for garbage collection, but for a second or two, not a minute.
 */
export const defaultStallTimeoutMs = 60_000;
/** How long a failed flash waits for a still-pending device operation before leaving the drive unmarked. */
const settleMs = 2_000;

export const incompleteLabel = 'incomplete — do not use';

export type WriteProgress = { phase: 'writing' | 'verifying'; bytesDone: number; bytesTotal: number };

/** A range of the device that was written, with the SHA-256 its bytes must read back as. */
export type WrittenRange = { offset: number; length: number; sha256: string };

export type DriveOpenOptions = {
  /** false: buffered writes + fsync + `blockdev --flushbufs` even where O_DIRECT works (bench/flashWrite.ts measures both). */
  directIo?: boolean;
  /** Cancels the flash even while a device operation is stuck. */
  signal?: AbortSignal;
  /** Default defaultStallTimeoutMs. */
  stallTimeoutMs?: number;
};

export function refuse(message: string, hint: string, code: AppError['code'] = 'BAD_REQUEST'): FieldkitError {
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

/** The tsconfig has no WebAssembly lib types; only Memory is used. */
const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number }) => { buffer: ArrayBuffer } } }).WebAssembly;

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

export class Cancelled extends Error {}

/** A failed device operation, with where on the drive it failed. */
export class DriveIoError extends Error {
  readonly errno: string;
  readonly offset: number;
  readonly doing: 'writing' | 'flushing' | 'reading back';
  constructor(cause: unknown, offset: number, doing: DriveIoError['doing']) {
    super((cause as Error).message);
    this.errno = (cause as NodeJS.ErrnoException).code ?? 'EIO';
    this.offset = offset;
    this.doing = doing;
  }
}

/** Errors the writer raised itself (refusals, device I/O, cancel), as opposed to the decoder's. */
export function isWriterError(error: unknown): boolean {
  return error instanceof FieldkitError || error instanceof DriveIoError || error instanceof Cancelled;
}

export function openFailure(device: string, cause: unknown): FieldkitError {
  const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
  if (code === 'EBUSY') return refuse(`${device} is in use (mounted or opened by another program): ${code}.`, 'Unmount every partition of the drive and close programs using it, then try again.', 'CONFLICT');
  if (code === 'EACCES' || code === 'EPERM') return refuse(`No permission to write ${device}: ${code}.`, 'Flashing needs administrator rights; start the flash again and allow it.', 'PERMISSION_DENIED');
  if (code === 'ENOENT' || code === 'ENXIO' || code === 'ENODEV' || code === 'ENOMEDIUM') return refuse(`${device} is not there (${code}).`, 'Insert the drive (check the card sits in the reader), then pick it again.', 'UNAVAILABLE');
  return refuse(`Cannot open ${device}: ${(cause as Error).message}.`, 'Check that the drive is still connected, then try again.', 'IO_ERROR');
}

/** True when the device is gone or no longer the size it had when the flash began (a pulled card reads as 0 bytes). */
async function driveWentAway(device: string, sizeAtStart: number): Promise<boolean> {
  try {
    return (await deviceSize(device)) !== sizeAtStart;
  } catch {
    return true;
  }
}

/**
 * An open target drive: the exclusive writer, and where the platform allows, an O_DIRECT
 * writer and reader sharing one aligned 4 MiB block.
 */
export class DriveWriter {
  readonly device: string;
  readonly size: number;
  readonly isBlock: boolean;
  /** The aligned (when direct) 4 MiB buffer every write and read-back goes through. */
  readonly block: Buffer;
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

  private constructor(device: string, size: number, isBlock: boolean, writer: FileHandle, direct: FileHandle | null, reader: FileHandle | null, block: Buffer, options: DriveOpenOptions) {
    this.signal = options.signal;
    this.stallTimeoutMs = options.stallTimeoutMs ?? defaultStallTimeoutMs;
    this.device = device;
    this.size = size;
    this.isBlock = isBlock;
    this.writer = writer;
    this.direct = direct;
    this.reader = reader;
    this.block = block;
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
    let buffer: Buffer | null = null;
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
    } catch (error) {
      await reader?.close().catch(() => undefined);
      await writer.close().catch(() => undefined);
      throw openFailure(device, error);
    }
    return new DriveWriter(device, size, isBlock, writer, direct, reader, buffer ?? Buffer.allocUnsafeSlow(writeBlockBytes), options);
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

  /** Reads each range back in aligned blocks and compares its SHA-256; throws on the first difference. */
  async readBack(ranges: readonly WrittenRange[], total: number, emit: (p: WriteProgress) => void): Promise<number> {
    const { signal } = this;
    const { block, device } = this;
    this.reader ??= await open(device, constants.O_RDONLY);
    const reader = this.reader;
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
        let bytesRead: number;
        try {
          ({ bytesRead } = await this.guard(reader.read(block, 0, want, at), at, 'reading back'));
        } catch (error) {
          if (error instanceof DriveIoError || error instanceof Cancelled) throw error;
          throw new DriveIoError(error, at, 'reading back');
        }
        if (bytesRead === 0) {
          if (await driveWentAway(device, this.size)) throw new DriveIoError(Object.assign(new Error('end of device'), { code: 'ENXIO' }), at, 'reading back');
          throw refuse(`${device} ended at byte ${at} while reading back the image.`, 'The drive is smaller than it claimed (counterfeit?); use another drive.', 'IO_ERROR');
        }
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

  /** The AppError a failure during writing ends with; the drive is named in every one. */
  async failure(error: unknown): Promise<AppError> {
    const { device, signal } = this;
    if (error instanceof Cancelled || signal?.aborted === true) {
      return appError('CANCELLED', `The flash of ${device} was cancelled after ${this.bytesWritten} bytes; the drive is ${incompleteLabel}.`, 'Flash it again before using it.');
    }
    if (isFieldkitError(error)) return error.appError;
    if (error instanceof DriveIoError) {
      const where = `while ${error.doing} at ${formatBytes(error.offset)}`;
      if (error.errno === 'ETIMEDOUT' || (await driveWentAway(device, this.size))) {
        return appError('UNAVAILABLE', `${device} was removed or stopped responding ${where} (${error.errno}) — reinsert it and flash again.`, `The drive is ${incompleteLabel}. Reinsert it, keep it in until the flash says done, and flash it again.`);
      }
      if (error.errno === 'ENOSPC') {
        return appError('IO_ERROR', `${device} refused to take more data ${where} (${error.errno}); it holds ${formatBytes(this.size)}.`, 'The drive is full or smaller than it claims (counterfeit?); use another drive.');
      }
      return appError('IO_ERROR', `${device} failed ${where}: ${error.message}.`, `The drive is ${incompleteLabel}. Check that it is connected firmly and flash it again; if it keeps failing, replace the card or the card reader.`);
    }
    return appError('IO_ERROR', `Writing ${device} failed after ${this.bytesWritten} bytes: ${(error as Error).message}.`, 'Check that the drive is still connected, then flash it again; if it keeps failing, replace the card.');
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

/**
 * The raw image stream cut into write blocks of `writeBlockBytes` in the drive's aligned
 * buffer. `check` sees every raw chunk first (hashes, size limits) and may refuse it;
 * `onBlock` gets each full block (and the last, shorter one) with its raw offset, and must
 * be done with `block` when it resolves. The stream's backpressure keeps one block in flight.
 */
export function blockSink(block: Buffer, check: (chunk: Buffer) => Error | null, onBlock: (start: number, bytes: Buffer) => Promise<void>): Writable {
  let blockStart = 0;
  let fill = 0;
  const flushBlock = async (): Promise<void> => {
    if (fill === 0) return;
    await onBlock(blockStart, block.subarray(0, fill));
    blockStart += fill;
    fill = 0;
  };
  return new Writable({
    highWaterMark: writeBlockBytes,
    write(chunk: Buffer, _e, done) {
      const refused = check(chunk);
      if (refused !== null) {
        done(refused);
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
}
