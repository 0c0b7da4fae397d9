/**
 * A forwarding pass: batches until caught up, outside the windows, stopped or failed.
 * Passes run one at a time, whether the loop or `forwardNow` started them, so two never
 * forward the same range at once. Failures in a row are counted for the backoff; a pass
 * that succeeds resets them.
 */
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { BatchStatus, ForwardSummary } from './uplinkBatch.ts';
import { describeUplinkError } from './uplinkRetry.ts';

export type PassDeps = {
  forwardBatch: () => Promise<ForwardSummary | null>;
  status: BatchStatus;
  url: string;
  isStopped: () => boolean;
  insideWindow: () => boolean;
  /** The journal's forwarded watermark (0 when it cannot be read). */
  forwardedSeq: () => number;
  log: (message: string) => void;
};

export type Passes = {
  /** Runs a pass after any pass already running. */
  run: () => Promise<Result<ForwardSummary>>;
  /** Failed passes in a row. */
  failures: () => number;
  /** Settles when the last pass started has ended. */
  settled: () => Promise<unknown>;
};

export function createPasses(deps: PassDeps): Passes {
  const { status, isStopped } = deps;
  let failures = 0;
  let chain: Promise<unknown> = Promise.resolve();

  async function drain(): Promise<Result<ForwardSummary>> {
    const total: ForwardSummary = { records: 0, losses: 0, through_seq: status.forwarded_seq };
    try {
      while (!isStopped() && deps.insideWindow()) {
        const batch = await deps.forwardBatch();
        if (batch === null) break;
        total.records += batch.records;
        total.losses += batch.losses;
        total.through_seq = batch.through_seq;
      }
      failures = 0;
      status.forwarded_seq = deps.forwardedSeq();
      total.through_seq = status.forwarded_seq;
      return ok(total);
    } catch (error) {
      const described = describeUplinkError(error, deps.url);
      if (!isStopped()) {
        failures += 1;
        status.last_error = described.message;
        deps.log(`uplink: ${described.message}`);
      }
      return fail(described);
    }
  }

  return {
    run() {
      const next = chain.then(drain);
      chain = next.catch(() => undefined);
      return next;
    },
    failures: () => failures,
    settled: () => chain,
  };
}
