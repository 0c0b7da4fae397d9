/**
 * Planning a rollout and judging its batches: pure functions, so the plan a rollout
 * resumes with is exactly the plan it started with (the shuffle comes from a stored seed).
 */
import type { BatchSize, DeviceDeployStatus } from '../../shared/deploy.ts';
import { batchCounts } from '../../shared/rolloutBatches.ts';

export type RolloutOrder = 'given' | 'shuffle';

/**
 * Splits devices into batches: `[1, 5, "20%"]` is a canary of one, then five, then 20% of
 * all devices at a time until every device has a batch. `order: 'shuffle'` permutes the
 * devices first with a PRNG seeded by `seed`, so the same seed gives the same plan.
 */
export function planBatches(deviceIds: readonly string[], batches: readonly BatchSize[], order: RolloutOrder, seed: number): string[][] {
  const ordered = order === 'shuffle' ? seededShuffle(deviceIds, seed) : [...deviceIds];
  const plan: string[][] = [];
  let at = 0;
  for (const count of batchCounts(batches, ordered.length)) {
    plan.push(ordered.slice(at, at + count));
    at += count;
  }
  return plan;
}

/** Fisher–Yates with mulberry32: deterministic for a seed, uniform enough for picking canaries. */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}

/** Statuses that count against a batch's failure threshold. */
export const failingStatuses: ReadonlySet<DeviceDeployStatus> = new Set(['failed', 'rolled-back', 'refused']);

/** Statuses after which a device needs nothing more from this rollout. */
export const finishedStatuses: ReadonlySet<DeviceDeployStatus> = new Set(['updated', 'unchanged']);

export type BatchVerdict = {
  /** True when the rollout must stop before the next batch. */
  stop: boolean;
  failedDevices: string[];
  failedPercent: number;
  /** Says which batch, how many of its devices and which ones (by name), and the limit. */
  stopReason: string | null;
};

/**
 * Judges a finished batch: more failing devices (failed, rolled back, refused) than
 * `maxFailurePercent` of the batch stops the rollout. At 0% any failure stops it.
 */
export function judgeBatch(batchIndex: number, devices: readonly { name: string; status: DeviceDeployStatus }[], maxFailurePercent: number): BatchVerdict {
  const failed = devices.filter((d) => failingStatuses.has(d.status)).map((d) => d.name);
  const failedPercent = devices.length === 0 ? 0 : (failed.length / devices.length) * 100;
  const stop = failed.length > 0 && failedPercent > maxFailurePercent + 1e-9;
  const label = batchIndex === 0 ? 'batch 1 (the canary)' : `batch ${batchIndex + 1}`;
  return {
    stop,
    failedDevices: failed,
    failedPercent,
    stopReason: stop
      ? `${label}: ${failed.length} of ${devices.length} device${devices.length === 1 ? '' : 's'} failed (${formatPercent(failedPercent)}, the limit is ${formatPercent(maxFailurePercent)}): ${failed.join(', ')}.`
      : null,
  };
}

function formatPercent(value: number): string {
  return `${Number.isInteger(value) ? String(value) : value.toFixed(1)}%`;
}
