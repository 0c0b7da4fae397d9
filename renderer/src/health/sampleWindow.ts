/**
 * The last fifteen minutes of one device's samples, in memory, for its charts: filled
 * from `health.device`'s recent samples, then appended from `health.changed`. Samples are
 * kept in time order; a repeat or an older one (the same sample seen twice) is dropped.
 */
import type { HealthSample } from '../../../shared/health.ts';

export const windowSpanMs = 15 * 60_000;

export type SampleWindow = {
  /** Adds one sample; false when it was not newer than the last one. */
  push(sample: HealthSample): boolean;
  /** Adds many (any order), e.g. the initial fill. */
  fill(samples: readonly HealthSample[]): void;
  samples(): readonly HealthSample[];
  latest(): HealthSample | null;
};

export function createSampleWindow(spanMs: number = windowSpanMs): SampleWindow {
  let kept: HealthSample[] = [];
  let start = 0;

  function trim(): void {
    const last = kept[kept.length - 1];
    if (last === undefined) return;
    const oldest = last.at_ms - spanMs;
    while (start < kept.length && (kept[start]?.at_ms ?? Infinity) < oldest) start++;
    // Compact now and then rather than shift() at every sample.
    if (start > 256 && start > kept.length / 2) {
      kept = kept.slice(start);
      start = 0;
    }
  }

  function push(sample: HealthSample): boolean {
    const last = kept[kept.length - 1];
    if (last !== undefined && sample.at_ms <= last.at_ms) return false;
    kept.push(sample);
    trim();
    return true;
  }

  return {
    push,
    fill(samples) {
      const merged = new Map<number, HealthSample>();
      for (const sample of kept.slice(start)) merged.set(sample.at_ms, sample);
      for (const sample of samples) merged.set(sample.at_ms, sample);
      kept = [...merged.values()].sort((a, b) => a.at_ms - b.at_ms);
      start = 0;
      trim();
    },
    samples: () => (start === 0 ? kept : kept.slice(start)),
    latest: () => kept[kept.length - 1] ?? null,
  };
}
