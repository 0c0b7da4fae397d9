/**
 * Read check: read a drive from start to end once, hashing as it goes, to measure its
 * real read speed and find regions that fail (counterfeit and worn-out SD cards show
 * both). Unreadable regions are recorded and skipped, never retried forever.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { z } from 'zod';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { ReadCheckResult } from '../../shared/drives.ts';
import { throwIfCancelled, type JobContext } from '../kernel/jobs/jobContext.ts';

const chunkBytes = 4 * 1024 * 1024;

export const ReadCheckParamsSchema = z.object({
  device: z.string().min(1),
  sizeBytes: z.number().int().nonnegative(),
  maxBytes: z.number().int().positive().optional(),
});
export type ReadCheckParams = z.infer<typeof ReadCheckParamsSchema>;

/** Runs the check; resolves with what was read, or throws on cancel or a fatal error. */
export async function runReadCheck(params: ReadCheckParams, ctx: JobContext): Promise<ReadCheckResult> {
  const total = params.maxBytes === undefined ? params.sizeBytes : Math.min(params.sizeBytes, params.maxBytes);
  const handle = await open(params.device, 'r').catch((cause: unknown) => {
    throw openFailure(params.device, cause);
  });
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(chunkBytes);
    const badRegions: ReadCheckResult['badRegions'] = [];
    const started = performance.now();
    let offset = 0;
    ctx.log('info', `Reading ${total} bytes from ${params.device}.`);
    while (offset < total) {
      throwIfCancelled(ctx.signal);
      const want = Math.min(chunkBytes, total - offset);
      let got: number;
      try {
        got = (await handle.read(buffer, 0, want, offset)).bytesRead;
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
        if (code !== 'EIO' && code !== 'ENXIO') throw cause;
        badRegions.push({ offset, length: want, code });
        ctx.log('warn', `Unreadable region at byte ${offset} (${want} bytes): ${code}. Skipping it.`);
        if (code === 'ENXIO') break; // the drive went away: nothing further will read
        offset += want;
        continue;
      }
      if (got === 0) {
        ctx.log('warn', `The drive ended at byte ${offset}, before the ${total} bytes it reports.`);
        badRegions.push({ offset, length: total - offset, code: 'SHORT' });
        break;
      }
      hash.update(buffer.subarray(0, got));
      offset += got;
      ctx.progress({ phase: 'reading', bytesDone: offset, bytesTotal: total });
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      device: params.device,
      bytesRead: offset - badRegions.reduce((sum, r) => sum + (r.code === 'SHORT' ? 0 : r.length), 0),
      sizeBytes: total,
      // A hash over a read with holes would describe no real content.
      sha256: badRegions.length === 0 ? hash.digest('hex') : null,
      seconds,
      averageBytesPerSecond: seconds > 0 ? offset / seconds : 0,
      badRegions,
    };
  } finally {
    await handle.close();
  }
}

function openFailure(device: string, cause: unknown): FieldkitError {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new FieldkitError(
      appError('PERMISSION_DENIED', `No permission to read ${device}.`, 'Run the check as a user allowed to read raw drives (on Linux: the disk group or root).'),
      { cause },
    );
  }
  if (code === 'ENOENT' || code === 'ENXIO' || code === 'ENODEV') {
    return new FieldkitError(
      appError('NOT_FOUND', `${device} is gone.`, 'Check that the drive is still plugged in, then pick it again from the drive list.'),
      { cause },
    );
  }
  return new FieldkitError(
    appError('IO_ERROR', `Cannot open ${device}: ${String(cause)}`, 'Reconnect the drive and try again.'),
    { cause },
  );
}
