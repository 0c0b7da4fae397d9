/**
 * The read-back of a write: every written range read from the drive in aligned blocks and
 * compared — its SHA-256, or for a range of zeros that it reads as zeros. The hash worker
 * hashes a block while the next one is read, as `dd iflag=direct | sha256sum` overlaps its
 * two processes; one read at a time, as writes (see WriteQueue).
 */
import type { FieldkitError } from '../../../shared/errors.ts';
import { alignment, allZero, writeBlockBytes } from './alignedBlocks.ts';
import { driveWentAway } from './deviceSize.ts';
import type { HashScope } from './hashWorker.ts';
import { Cancelled, DriveIoError, refuse } from './writerErrors.ts';

/** 'checking': the image's stored bytes hashed before the drive is opened (writeImage.ts); bytes are the image's. */
export type WriteProgress = { phase: 'checking' | 'writing' | 'verifying'; bytesDone: number; bytesTotal: number };

/** A range of the device that was written, with the SHA-256 its bytes must read back as; null: all zeros. */
export type WrittenRange = { offset: number; length: number; sha256: string | null };

/** What the read-back needs of the open drive (driveWriter.ts). */
export type ReadBackDrive = {
  device: string;
  /** Its size when the flash began: a drive that reads short and changed size was pulled. */
  size: number;
  signal: AbortSignal | undefined;
  blocks: readonly Buffer[];
  hasher: HashScope;
  /** Fills `buffer[0, want)` from device offset `at` (reads can come back short); the bytes read. */
  read(buffer: Buffer, want: number, at: number): Promise<number>;
};

/** Reads each range back and compares it; throws on the first difference. The bytes read back. */
export async function readBack(drive: ReadBackDrive, ranges: readonly WrittenRange[], total: number, emit: (p: WriteProgress) => void): Promise<number> {
  const { signal, device } = drive;
  const free = [...drive.blocks];
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
          got = await drive.read(block, want, at);
        } catch (error) {
          release(block);
          throw error;
        }
        if (got < useful) {
          release(block);
          const where = at + got;
          if (await driveWentAway(device, drive.size)) throw new DriveIoError(Object.assign(new Error('end of device'), { code: 'ENXIO' }), where, 'reading back');
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
        const hashed = drive.hasher
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
