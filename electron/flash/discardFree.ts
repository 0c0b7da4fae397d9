/**
 * The free filesystem space a sparse flash left unwritten, discarded where the drive supports
 * it, so a used card's old bytes there are not left readable. Best effort, never a failure,
 * and never taken for zeroing (a discarded range may read as anything; the read-back does not
 * look there). Linux block devices only, with util-linux `blkdiscard`: `-f`, as the writer's
 * own O_EXCL handle holds the drive; whole 4 KiB pages of each span.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const page = 4096;
/** One blkdiscard that has not returned after this long: the drive is taken not to discard. */
const discardTimeoutMs = 60_000;

/** What became of the free filesystem space a sparse flash left unwritten. */
export type SkippedFreeSpace = { bytes: number; discarded: boolean; note: string | null };

/** Discards `spans` of `device`; says whether it did, and why not. Throws only an AbortError when `signal` aborts. */
export async function discardFree(device: string, isBlock: boolean, spans: readonly { offset: number; length: number }[], signal?: AbortSignal): Promise<SkippedFreeSpace> {
  const bytes = spans.reduce((sum, s) => sum + s.length, 0);
  if (bytes === 0) return { bytes, discarded: false, note: null };
  if (!isBlock || process.platform !== 'linux') return { bytes, discarded: false, note: `not discarded: ${device} is not a Linux block device` };
  const limit = await readFile(`/sys/class/block/${path.basename(device)}/queue/discard_max_bytes`, 'utf8').then(
    (text) => Number(text.trim()),
    () => 0,
  );
  if (!(limit > 0)) return { bytes, discarded: false, note: `not discarded: ${device} does not support discard, so its old bytes stay there (no file of the image reads them)` };
  for (const span of spans) {
    const start = Math.ceil(span.offset / page) * page;
    const end = Math.floor((span.offset + span.length) / page) * page;
    if (end <= start) continue;
    try {
      await run('blkdiscard', ['-f', '-o', String(start), '-l', String(end - start), device], { signal, timeout: discardTimeoutMs });
    } catch (error) {
      if (signal?.aborted === true) throw error;
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'blkdiscard (util-linux) is not installed' : ((error as { stderr?: string }).stderr?.trim() || (error as Error).message).split('\n')[0];
      return { bytes, discarded: false, note: `not discarded: ${reason ?? 'blkdiscard failed'}` };
    }
  }
  return { bytes, discarded: true, note: null };
}
