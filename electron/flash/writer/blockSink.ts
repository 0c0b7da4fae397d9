/**
 * The stream source of a write: the raw image stream (a decompressor's output) cut into the
 * queue's aligned write blocks, each handed to the writer's `BlockHandler`.
 */
import { Writable } from 'node:stream';
import { writeBlockBytes } from './alignedBlocks.ts';
import type { BlockPlan, WriteQueue } from './writeQueue.ts';

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
