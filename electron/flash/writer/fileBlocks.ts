/** The file source of a write: an uncompressed image file read straight into the queue's aligned blocks. */
import { open } from 'node:fs/promises';
import { writeBlockBytes } from './alignedBlocks.ts';
import type { BlockHandler } from './blockSink.ts';
import type { BlockPlan, WriteQueue } from './writeQueue.ts';
import { ImageReadError } from './writerErrors.ts';

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
