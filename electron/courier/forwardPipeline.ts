/**
 * Small pieces of the forward's record pipeline (forwardJob.ts): the gate that holds a
 * batch's last bytes until the previous batch is marked, and the time split the job logs.
 */
import { appError, FieldkitError } from '../../shared/errors.ts';

/** A promise the pipeline resolves once the previous batch is marked, or rejects when marking failed. */
export function releaseGate(): { promise: Promise<void>; open: () => void; refuse: (reason: unknown) => void } {
  let open: () => void = () => undefined;
  let refuse: (reason: unknown) => void = () => undefined;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    refuse = (reason) => {
      reject(
        new FieldkitError(
          appError('IO_ERROR', `Could not mark forwarded records in the laptop store: ${reason instanceof Error ? reason.message : String(reason)}`, 'Check the disk is not full, then forward again: ClickHouse keeps one copy of what is sent again.'),
          { cause: reason },
        ),
      );
    };
  });
  // The insert awaiting it reports the refusal; nothing else need handle it.
  promise.catch(() => undefined);
  return { promise, open, refuse };
}

/** Where a forward's time went, said in the job log (bench/courierForward.ts prints it). */
export type ForwardTiming = { readMs: number; markMs: number; waitMs: number };

export function timed<T>(timing: ForwardTiming, key: keyof ForwardTiming, work: () => T): T {
  const start = performance.now();
  try {
    return work();
  } finally {
    timing[key] += performance.now() - start;
  }
}
