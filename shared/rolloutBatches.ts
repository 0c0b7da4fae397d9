/**
 * Batch sizes as a technician writes them (`1, 5, 20%`), and how many devices each batch
 * takes: shared so the CLI, the Deploy screen and the rollout job read the same text the
 * same way, and the screen can preview the plan before anything starts.
 */
import { BatchSizeSchema, type BatchSize } from './deploy.ts';
import { appError, type Result } from './errors.ts';

/**
 * Reads `1, 5, 20%` (or `[1, 5, "20%"]`) into batch sizes. An empty text is an error:
 * the caller decides what "no batches" means (one batch of everything).
 */
export function parseBatchSizes(text: string): Result<BatchSize[]> {
  const inner = text.trim().replace(/^\[/, '').replace(/\]$/, '');
  const parts = inner
    .split(/[,\s]+/)
    .map((part) => part.replace(/^["']|["']$/g, '').trim())
    .filter((part) => part !== '');
  if (parts.length === 0) {
    return { ok: false, error: appError('BAD_REQUEST', 'No batch sizes given.', 'Write sizes separated by commas, such as 1, 5, 20% (a canary of one, then 5, then 20% at a time).', 'batches') };
  }
  if (parts.length > 20) {
    return { ok: false, error: appError('BAD_REQUEST', `${parts.length} batch sizes is too many.`, 'Use at most 20 sizes; the last one repeats until every device is done.', 'batches') };
  }
  const sizes: BatchSize[] = [];
  for (const part of parts) {
    const parsed = BatchSizeSchema.safeParse(/^\d+$/.test(part) ? Number(part) : part);
    if (!parsed.success) {
      return {
        ok: false,
        error: appError('BAD_REQUEST', `"${part}" is not a batch size.`, 'Each size is a whole number of devices (at least 1) or a percentage such as 20%.', 'batches'),
      };
    }
    sizes.push(parsed.data);
  }
  return { ok: true, value: sizes };
}

/** The sizes written back as a technician types them: `1, 5, 20%`. */
export function formatBatchSizes(sizes: readonly BatchSize[]): string {
  return sizes.map(String).join(', ');
}

/**
 * How many devices each batch takes when `total` devices roll out: sizes in order, the
 * last repeating until all are done. A percentage is of ALL devices, rounded up, at least
 * one; a batch never takes more than remain.
 */
export function batchCounts(sizes: readonly BatchSize[], total: number): number[] {
  const counts: number[] = [];
  if (sizes.length === 0 || total <= 0) return total > 0 ? [total] : counts;
  let remaining = total;
  for (let i = 0; remaining > 0; i++) {
    const size = sizes[Math.min(i, sizes.length - 1)] ?? 1;
    const wanted = typeof size === 'number' ? size : Math.max(1, Math.ceil((Number.parseFloat(size) / 100) * total - 1e-9));
    const take = Math.min(wanted, remaining);
    counts.push(take);
    remaining -= take;
  }
  return counts;
}
