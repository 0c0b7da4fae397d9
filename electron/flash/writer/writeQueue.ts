/**
 * The drive's aligned blocks in rotation between whoever fills them (a stream cut into
 * blocks, blockSink.ts, or an image file read straight into them, fileBlocks.ts) and the
 * drive, so the next block is filled while the device takes the last.
 */
import type { DriveWriter } from './driveWriter.ts';

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
