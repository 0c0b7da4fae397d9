/**
 * Health as the rest of the agent sees it. Any agent process (the daemon, or an `rpc`
 * process started by a laptop) can make one from its config and the journal: samples
 * come from /proc and /sys, per-minute history is kept in the data dir by the daemon.
 */
import type { HealthEvent, HealthMinute, HealthSample } from '../../shared/health.ts';

export type HealthSource = {
  /** A fresh sample (CPU % is measured against the previous sample, or over a short window on the first). */
  sample(): Promise<HealthSample>;
  /** Calls `listener` with a sample every `intervalMs` until the returned function is called. */
  watch(intervalMs: number, listener: (sample: HealthSample) => void): () => void;
  history(sinceMs: number): { minutes: HealthMinute[]; events: HealthEvent[] };
  close(): void;
};
