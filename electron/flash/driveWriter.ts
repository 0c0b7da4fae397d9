/**
 * The device side of a flash, shared by the signed writer (writeImage.ts) and the plain one
 * (plainImage.ts): open the drive exclusively, O_DIRECT from page-aligned buffers, raw bytes
 * cut into aligned write blocks with the first one held back, flush, read-back of every
 * written range, and the first MiB zeroed when anything went wrong. Errors name the drive,
 * and a drive that went away mid-write is told apart from a bad image.
 *
 * The steps overlap rather than run in turn (a CPU profile of the sequential writer was 45%
 * idle waiting on I/O): `WriteQueue` rotates `blockCount` aligned blocks, so the O_DIRECT
 * write of one block runs on libuv's pool while the next is decompressed, hashed and filled;
 * the read-back keeps reads in flight while the main thread hashes the block before them.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { appError, FieldkitError, isFieldkitError, type AppError } from '../../shared/errors.ts';
import { formatBytes } from '../../shared/format.ts';
import { HashScope } from './hashWorker.ts';

const run = promisify(execFile);

/** 4 MiB: the top of the 1-4 MiB range; SD cards erase in 4 MiB allocation units. */
export const writeBlockBytes = 4 << 20;
/**
 * Aligned blocks per drive (16 MiB): one being filled or checked, one being read from an
 * uncompressed image file, the rest written. Two already overlap; more absorb a slow write.
 */
export const blockCount = 4;
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

/** 'checking': the image's stored bytes hashed before the drive is opened (writeImage.ts); bytes are the image's. */
export type WriteProgress = { phase: 'checking' | 'writing' | 'verifying'; bytesDone: number; bytesTotal: number };

/** A range of the device that was written, with the SHA-256 its bytes must read back as; null: all zeros. */
export type WrittenRange = { offset: number; length: number; sha256: string | null };

export type { SkippedFreeSpace } from './discardFree.ts';

const zeroPage = Buffer.alloc(alignment);

/** True when `bytes` holds nothing but zeros (memcmp a page at a time). */
function allZero(bytes: Buffer): boolean {
  for (let at = 0; at < bytes.length; at += alignment) {
    const piece = bytes.subarray(at, at + alignment);
    if (!piece.equals(piece.length === alignment ? zeroPage : zeroPage.subarray(0, piece.length))) return false;
  }
  return true;
}

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
const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => { buffer: SharedArrayBuffer } } }).WebAssembly;

/**
 * A buffer usable with O_DIRECT. Node cannot allocate aligned memory nor report a buffer's
 * address; Buffer backing stores come from malloc ("page + 16" at best). Trying offsets and
 * keeping the one whose O_DIRECT read succeeds does not work: zram (and other devices with a
 * loose DMA alignment) accept every offset, and on this kernel such unaligned direct reads
 * overwrote malloc's chunk header (the process aborted with "munmap_chunk(): invalid
 * pointer"). A WebAssembly.Memory's backing store is mapped with mmap and so page-aligned,
 * and it never moves while it is not grown: a Buffer over it is aligned at offset 0. It is
 * shared memory, so the hash worker (hashWorker.ts) reads the blocks in place.
 * One 4 KiB direct read from the device confirms the device takes O_DIRECT at all.
 */
async function alignedBlocks(probe: FileHandle): Promise<Buffer[] | null> {
  const pages = Math.ceil((blockCount * writeBlockBytes) / 65536);
  const slab = Buffer.from(new wasm.Memory({ initial: pages, maximum: pages, shared: true }).buffer);
  try {
    await probe.read(slab, 0, alignment, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return null;
    throw error;
  }
  // writeBlockBytes is a multiple of the page size: every block starts page-aligned.
  return Array.from({ length: blockCount }, (_, i) => slab.subarray(i * writeBlockBytes, (i + 1) * writeBlockBytes));
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
    blocks ??= Array.from({ length: blockCount }, () => Buffer.from(new SharedArrayBuffer(writeBlockBytes)));
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

  /**
   * Reads each range back in aligned blocks and compares its SHA-256 (or, for a range of
   * zeros, that it reads as zeros); throws on the first difference. The hash worker hashes a block while the next is read, as
   * `dd iflag=direct | sha256sum` overlaps its two processes; one read at a time, as writes
   * (see WriteQueue).
   */
  async readBack(ranges: readonly WrittenRange[], total: number, emit: (p: WriteProgress) => void): Promise<number> {
    const { signal, device } = this;
    this.reader ??= await open(device, constants.O_RDONLY);
    const reader = this.reader;
    const free = [...this.blocks];
    const freed: (() => void)[] = [];
    const hashing = new Set<Promise<void>>();
    const refuseDiffering = (range: WrittenRange): FieldkitError =>
      refuse(`Reading back ${device}: the ${range.length} bytes at byte ${range.offset} differ from what was written.`, 'The drive did not keep what was written: it is faulty or counterfeit. Use another drive.', 'VERIFICATION_FAILED');
    // Set by the worker's replies, which arrive while the loop below reads on.
    const found: { differs: WrittenRange | null; failed: Error | null } = { differs: null, failed: null };
    const problem = (): Error | null => found.failed ?? (found.differs === null ? null : refuseDiffering(found.differs));
    const acquire = async (): Promise<Buffer> => {
      for (;;) {
        const block = free.shift();
        if (block !== undefined) return block;
        await new Promise<void>((resolve) => freed.push(resolve));
      }
    };
    const release = (block: Buffer): void => {
      free.push(block);
      freed.shift()?.();
    };
    let done = 0;
    emit({ phase: 'verifying', bytesDone: 0, bytesTotal: total });
    try {
      for (const [index, range] of ranges.entries()) {
        const end = range.offset + range.length;
        for (let at = range.offset; at < end; ) {
          if (signal?.aborted === true) throw new Cancelled();
          const earlier = problem();
          if (earlier !== null) throw earlier;
          const block = await acquire();
          // O_DIRECT reads must be whole aligned blocks: read rounded up, hash only the range's bytes.
          const want = Math.min(writeBlockBytes, Math.ceil((end - at) / alignment) * alignment);
          const useful = Math.min(want, end - at);
          let got: number;
          try {
            got = await this.readFull(reader, block, want, at);
          } catch (error) {
            release(block);
            throw error;
          }
          if (got < useful) {
            release(block);
            const where = at + got;
            if (await driveWentAway(device, this.size)) throw new DriveIoError(Object.assign(new Error('end of device'), { code: 'ENXIO' }), where, 'reading back');
            throw refuse(`${device} ended at byte ${where} while reading back the image.`, 'The drive is smaller than it claimed (counterfeit?); use another drive.', 'IO_ERROR');
          }
          if (range.sha256 === null) {
            // Zeros the image has there (a file of zeros, an inode table): checked here, no hash needed.
            const zeros = allZero(block.subarray(0, useful));
            release(block);
            if (!zeros) throw refuseDiffering(range);
            at += useful;
            done += useful;
            emit({ phase: 'verifying', bytesDone: done, bytesTotal: total });
            continue;
          }
          const last = at + useful === end;
          const hashed = this.hasher
            .run([{ key: `read-back ${index}`, bytes: block.subarray(0, useful), digest: last }])
            .then(
              ([digest]) => {
                if (last && digest !== range.sha256) found.differs ??= range;
              },
              (error: unknown) => {
                found.failed ??= error instanceof Error ? error : new Error(String(error));
              },
            )
            .finally(() => {
              hashing.delete(hashed);
              release(block);
            });
          hashing.add(hashed);
          at += useful;
          done += useful;
          emit({ phase: 'verifying', bytesDone: done, bytesTotal: total });
        }
      }
      while (hashing.size > 0) await Promise.all([...hashing]);
    } finally {
      // A block the worker still reads must not be reused by a caller after a failure.
      await Promise.all([...hashing]);
    }
    const late = problem();
    if (late !== null) throw late;
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

/** A part of a block to write: bytes [from, to) of it, at device offset `start + from`. */
export type BlockPiece = { from: number; to: number };

/**
 * What to do with a block: the pieces to write, and the hash worker's jobs on it (`hashed`;
 * the block is reused only once both are done; a rejection fails the flash like a failed write).
 */
export type BlockPlan = { pieces: readonly BlockPiece[]; hashed?: Promise<unknown> };

/**
 * The drive's aligned blocks in rotation. `acquire` hands out a free block (waiting while all
 * are queued for the drive), `submit` queues its writes and frees it once they are done, so
 * the caller fills the next blocks while the device takes the last. Writes go to the drive
 * one at a time, in order, as before: a drive that stops answering holds one of libuv's four
 * pool threads, not all of them (the stall timeout and cancel need the pool to report it),
 * and SD cards gain nothing from a deeper queue. A failed write (drive pulled, stall, cancel)
 * is thrown by the next `acquire` or by `drain`; the writes queued behind it are dropped.
 */
export class WriteQueue {
  private readonly drive: DriveWriter;
  private readonly free: Buffer[];
  private readonly waiting: (() => void)[] = [];
  /** The last queued block's writes: the next block's start when it is done. */
  private tail: Promise<void> = Promise.resolve();
  /** Blocks submitted and not yet free again. */
  private readonly settling = new Set<Promise<void>>();
  private failed: { error: unknown } | null = null;
  private readonly onWritten: (start: number, end: number) => void;

  /**
   * `onWritten` gets the raw extent [start, end) of each block once its writes finished (at
   * once for a block with nothing to write): progress counts bytes the drive took, and stops
   * when the drive does.
   */
  constructor(drive: DriveWriter, onWritten: (start: number, end: number) => void = () => undefined) {
    this.drive = drive;
    this.free = [...drive.blocks];
    this.onWritten = onWritten;
  }

  async acquire(): Promise<Buffer> {
    for (;;) {
      if (this.failed !== null) throw this.failed.error;
      const block = this.free.shift();
      if (block !== undefined) return block;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /** Gives a block back unwritten. */
  release(block: Buffer): void {
    this.free.push(block);
    this.waiting.shift()?.();
  }

  /** Writes the plan's pieces of block[0, length) at device offset `start + from`; frees the block once they are written and hashed. */
  submit(block: Buffer, start: number, length: number, plan: BlockPlan): void {
    const { pieces } = plan;
    const hashed = (plan.hashed ?? Promise.resolve()).catch((error: unknown) => {
      this.failed ??= { error };
    });
    let written: Promise<void>;
    if (pieces.length === 0) {
      this.onWritten(start, start + length);
      written = Promise.resolve();
    } else {
      written = this.tail = this.tail
        .then(async () => {
          if (this.failed !== null) return;
          for (const { from, to } of pieces) await this.drive.put(block.subarray(from, to), start + from);
          this.onWritten(start, start + length);
        })
        .catch((error: unknown) => {
          this.failed ??= { error };
        });
    }
    const settled = Promise.all([written, hashed]).then(() => {
      this.settling.delete(settled);
      // After a failure nothing reuses the block (acquire throws): a write the kernel still
      // holds may yet read from it.
      this.release(block);
    });
    this.settling.add(settled);
  }

  /** Every submitted block written and hashed; throws the first failure. */
  async drain(): Promise<void> {
    while (this.settling.size > 0) await Promise.all([...this.settling]);
    if (this.failed !== null) throw this.failed.error;
  }
}

/**
 * What a writer does with each block of raw image bytes. `check` sees every raw chunk first
 * (size limits, a mismatch found earlier) and may refuse it; `onBlock` gets each full block
 * (and the last, shorter one) with its raw offset, which is also its device offset, and says
 * which pieces of it to write (none for the held-back first block, which it copies) and
 * what the hash worker does with it.
 */
export type BlockHandler = {
  check: (chunk: Buffer) => Error | null;
  onBlock: (start: number, bytes: Buffer) => BlockPlan;
  /**
   * The raw [from, to) stretches of [start, end) the block must hold (all of it when absent).
   * blockSink copies only those, and a block needing none is never given a buffer: the
   * unmapped stretches of a sparse image are checked by `check` and go no further. Block
   * bytes outside them are stale; `onBlock` must neither write nor hash them.
   */
  needed?: (start: number, end: number) => readonly (readonly [number, number])[];
  /**
   * Raw [start, start + length) is passed by without its bytes (a zero frame left undecoded):
   * nothing of it may be mapped. An Error refuses the image.
   */
  skip?: (start: number, length: number) => Error | null;
};

/**
 * The raw image stream (a decompressor's output) cut into write blocks in the queue's
 * aligned buffers. Backpressure comes from `acquire`: the stream waits only when every block
 * is still being written. `skips` (raw spans, in order) are missing from the stream — zero
 * frames not decoded — and are passed by as if their bytes had come and none was needed.
 */
export function blockSink(queue: WriteQueue, handler: BlockHandler, skips: readonly { offset: number; length: number }[] = []): Writable {
  let block: Buffer | null = null;
  let blockStart = 0;
  let fill = 0;
  let nextSkip = 0;
  const flushBlock = (): void => {
    const full = block;
    const start = blockStart;
    const length = fill;
    block = null;
    blockStart += fill;
    fill = 0;
    // Nothing of it was needed (an unmapped stretch): no buffer, nothing to write or hash.
    if (full === null) return;
    let plan: BlockPlan;
    try {
      plan = handler.onBlock(start, full.subarray(0, length));
    } catch (error) {
      queue.release(full);
      throw error;
    }
    queue.submit(full, start, length, plan);
  };
  /**
   * Passes the skips that begin at the current position; an Error when the handler refuses one.
   * What `needed` asks for inside a skip (zeros that must be written) is zero-filled: the
   * skipped frame decodes to zeros, so nothing needs decoding to write them.
   */
  const passSkips = async (): Promise<Error | null> => {
    for (let skip = skips[nextSkip]; skip !== undefined && skip.offset === blockStart + fill; skip = skips[nextSkip]) {
      nextSkip++;
      const refused = handler.skip?.(skip.offset, skip.length) ?? null;
      if (refused !== null) return refused;
      for (let left = skip.length; left > 0; ) {
        const take = Math.min(left, writeBlockBytes - fill);
        const from = blockStart + fill;
        for (const [a, b] of handler.needed?.(from, from + take) ?? [[from, from + take]]) {
          block ??= await queue.acquire();
          block.fill(0, a - blockStart, b - blockStart);
        }
        fill += take;
        left -= take;
        if (fill === writeBlockBytes) flushBlock();
      }
    }
    return null;
  };
  return new Writable({
    highWaterMark: writeBlockBytes,
    write(chunk: Buffer, _e, done) {
      void (async () => {
        let at = 0;
        while (at < chunk.length) {
          const skipped = await passSkips();
          if (skipped !== null) throw skipped;
          // A piece never runs into the next skip: the bytes after it belong past the skip.
          const upTo = skips[nextSkip]?.offset ?? Number.POSITIVE_INFINITY;
          if (upTo < blockStart + fill) throw new Error(`its decoded bytes run into the zero frame at byte ${String(upTo)}`);
          const piece = chunk.subarray(at, at + Math.min(chunk.length - at, upTo - (blockStart + fill)));
          const refused = handler.check(piece);
          if (refused !== null) throw refused;
          let used = 0;
          while (used < piece.length) {
            const take = Math.min(piece.length - used, writeBlockBytes - fill);
            const from = blockStart + fill;
            for (const [a, b] of handler.needed?.(from, from + take) ?? [[from, from + take]]) {
              block ??= await queue.acquire();
              piece.copy(block, a - blockStart, used + (a - from), used + (b - from));
            }
            fill += take;
            used += take;
            if (fill === writeBlockBytes) flushBlock();
          }
          at += piece.length;
        }
      })().then(() => {
        done();
      }, done);
    },
    final(done) {
      void (async () => {
        const skipped = await passSkips();
        if (skipped !== null) throw skipped;
        if (fill > 0) flushBlock();
        else if (block !== null) queue.release(block);
      })().then(() => {
        done();
      }, done);
    },
  });
}

/** A failed read of the image file itself (not the drive): the writers word it as the image's fault. */
export class ImageReadError extends Error {}

/**
 * [offset, offset + length) of an uncompressed image file read straight into the queue's
 * aligned blocks with 4 MiB reads — no stream and no copy — the read of the next block
 * running while this one is checked. Same `handler` contract as blockSink; the raw offset
 * of the first byte is 0. Returns the bytes read (fewer than `length` if the file ends early).
 */
export async function fileBlocks(file: string, offset: number, length: number, queue: WriteQueue, handler: BlockHandler): Promise<number> {
  const source = await open(file, 'r').catch((cause: unknown) => {
    throw new ImageReadError((cause as Error).message);
  });
  type Read = { block: Buffer; start: number; want: number; got: number };
  const readBlock = async (start: number): Promise<Read> => {
    const block = await queue.acquire();
    const want = Math.min(writeBlockBytes, length - start);
    let got = 0;
    try {
      while (got < want) {
        const { bytesRead } = await source.read(block, got, want - got, offset + start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch (cause) {
      queue.release(block);
      throw new ImageReadError((cause as Error).message);
    }
    return { block, start, want, got };
  };
  let next: Promise<Read> | null = length > 0 ? readBlock(0) : null;
  let total = 0;
  try {
    while (next !== null) {
      const read: Read = await next;
      next = null;
      const { block, start, want, got } = read;
      total += got;
      if (got === want && start + got < length) {
        next = readBlock(start + got);
        // Awaited on the next turn; one left behind by a failure below must not go unhandled.
        next.catch(() => undefined);
      }
      if (got === 0) {
        queue.release(block);
        break;
      }
      const bytes = block.subarray(0, got);
      let plan: BlockPlan;
      try {
        const refused = handler.check(bytes);
        if (refused !== null) throw refused;
        plan = handler.onBlock(start, bytes);
      } catch (error) {
        queue.release(block);
        throw error;
      }
      queue.submit(block, start, got, plan);
    }
  } finally {
    const left = await next?.catch(() => null);
    if (left != null) queue.release(left.block);
    await source.close().catch(() => undefined);
  }
  return total;
}
