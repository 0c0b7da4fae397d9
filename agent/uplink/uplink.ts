/**
 * The direct uplink: when the Pi itself is online, it forwards its journal to ClickHouse
 * (the same tables and keys as the laptop's courier, so both may deliver the same records
 * without double counting).
 *
 * Rules that keep it exactly-once in effect:
 * - The forwarded watermark moves only after ClickHouse acknowledged the insert, and only
 *   through the last seq of that insert.
 * - A failed batch is retried with the same boundaries (and, on 22.2+, the same
 *   insert_deduplication_token); a batch that landed but whose answer was lost lands again
 *   and collapses by the ReplacingMergeTree key (device_id, journal_id, seq).
 * - Loss records in a batch's range go first, so a gap is never forwarded unexplained.
 *
 * Failures back off exponentially with jitter (1 s → 5 min); a bandwidth cap paces batches
 * by the bytes that went on the wire; time windows keep a metered link quiet outside them.
 */
import type { AgentConfig } from '../../shared/agentConfig.ts';
import { appError, fail } from '../../shared/errors.ts';
import type { Result } from '../../shared/errors.ts';
import type { Journal } from '../journal/journalApi.ts';
import { createClickHouseWriter } from './clickhouseWriter.ts';
import type { ClickHouseWriter, UplinkConfig } from './clickhouseWriter.ts';
import { createBatchForwarder, type ForwardSummary } from './uplinkBatch.ts';
import { createPacer } from './uplinkPacer.ts';
import { createPasses, type Passes } from './uplinkPass.ts';
import { backoffDelay } from './uplinkRetry.ts';
import { isInsideWindows, msUntilWindowOpens } from './uplinkWindows.ts';
import type { UplinkStatus } from './uplinkStatus.ts';
import { UPLINK_OFF } from './uplinkStatus.ts';

export { UPLINK_COURIER_ID, type ForwardSummary } from './uplinkBatch.ts';
export { backoffDelay, describeUplinkError } from './uplinkRetry.ts';

/** The uplink's own view, a superset of what a health sample carries. */
export type UplinkRunStatus = UplinkStatus & {
  forwarded_seq: number;
  /** Bytes written to ClickHouse's sockets since start (what a metered link bills). */
  bytes_sent: number;
  batches: number;
  server_version: string | null;
  /** When the next attempt is due while backing off or waiting for a window. */
  next_attempt_ms: number | null;
};

export type Uplink = {
  status(): UplinkRunStatus;
  /** Forwards what is pending now (inside a window), without waiting out a backoff. */
  forwardNow(): Promise<Result<ForwardSummary>>;
  /** Stops the loop, aborting an insert in flight (its batch stays unforwarded). */
  stop(): Promise<void>;
};

export type UplinkOptions = {
  config: AgentConfig;
  journal: Journal;
  now?: () => number;
  log?: (message: string) => void;
  /** How often to look for new records when caught up (ms). */
  pollMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  random?: () => number;
  /** For tests: a writer other than @clickhouse/client over HTTP. */
  writer?: ClickHouseWriter;
};

const DEFAULT_BACKOFF = { initialMs: 1_000, maxMs: 5 * 60_000 };
/** Re-check windows at least this often (clock set by NTP, DST). */
const WINDOW_RECHECK_MS = 60_000;

function off(): Uplink {
  return {
    status: () => ({ ...UPLINK_OFF, forwarded_seq: 0, bytes_sent: 0, batches: 0, server_version: null, next_attempt_ms: null }),
    forwardNow: () => Promise.resolve(fail(appError('UNAVAILABLE', 'No uplink is configured', 'Set config.uplink (url, database, table) to forward from the Pi itself.'))),
    stop: () => Promise.resolve(),
  };
}

export function startUplink(options: UplinkOptions): Uplink {
  const uplink = options.config.uplink;
  if (uplink === null) return off();
  return runUplink(options, uplink);
}

/** A sleep that `wake()` ends early (a stop, or a forwardNow that ended a backoff). */
function createSleeper(): { sleep: (ms: number) => Promise<void>; wake: () => void } {
  let wakeSleeper: (() => void) | null = null;
  return {
    sleep: (ms) =>
      new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          wakeSleeper = null;
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        wakeSleeper = done;
      }),
    wake: () => {
      wakeSleeper?.();
    },
  };
}

type LoopDeps = {
  status: UplinkRunStatus;
  passes: Passes;
  sleep: (ms: number) => Promise<void>;
  isStopped: () => boolean;
  insideWindow: () => boolean;
  now: () => number;
  windows: UplinkConfig['windows'];
  pollMs: number;
  backoff: { initialMs: number; maxMs: number };
  random: () => number;
};

/** Until stopped: a pass, then a poll wait (caught up) or a backoff (failed); asleep outside the windows. */
async function forwardLoop(deps: LoopDeps): Promise<void> {
  const { status, passes, sleep, isStopped, now, backoff } = deps;
  while (!isStopped()) {
    if (!deps.insideWindow()) {
      status.state = 'outside_window';
      const wait = Math.min(WINDOW_RECHECK_MS, Math.max(1_000, msUntilWindowOpens(deps.windows, new Date(now()))));
      status.next_attempt_ms = now() + wait;
      await sleep(wait);
      continue;
    }
    const result = await passes.run();
    if (isStopped()) break;
    if (result.ok) {
      status.state = 'idle';
      status.next_attempt_ms = null;
      await sleep(deps.pollMs);
    } else {
      status.state = 'backoff';
      const delay = backoffDelay(passes.failures(), backoff.initialMs, backoff.maxMs, deps.random);
      status.next_attempt_ms = now() + delay;
      await sleep(delay);
    }
  }
}

function runUplink(options: UplinkOptions, uplink: UplinkConfig): Uplink {
  const { config, journal } = options;
  const now = options.now ?? Date.now;
  const log = options.log ?? ((): void => undefined);
  const pollMs = options.pollMs ?? 1_000;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const random = options.random ?? Math.random;
  const writer = options.writer ?? createClickHouseWriter(uplink);

  const status: UplinkRunStatus = {
    state: 'idle',
    last_forward_ms: null,
    last_error: null,
    forwarded_seq: safeForwardedSeq(),
    bytes_sent: 0,
    batches: 0,
    server_version: null,
    next_attempt_ms: null,
  };
  const life = { stopped: false };
  /** A call, not a read: the loop checks after awaits, which TypeScript's narrowing cannot see. */
  const isStopped = (): boolean => life.stopped;
  const abort = new AbortController();
  const { sleep, wake } = createSleeper();

  function safeForwardedSeq(): number {
    try {
      return journal.info().forwarded_seq;
    } catch {
      return 0;
    }
  }

  function insideWindow(): boolean {
    return isInsideWindows(uplink.windows, new Date(now()));
  }

  const forwardBatch = createBatchForwarder({
    config,
    uplink,
    journal,
    writer,
    pacer: createPacer(uplink.max_bytes_per_s, sleep, isStopped),
    status,
    now,
    signal: abort.signal,
    isStopped,
  });

  const passes = createPasses({
    forwardBatch,
    status,
    url: uplink.url,
    isStopped,
    insideWindow,
    forwardedSeq: safeForwardedSeq,
    log,
  });

  const running = forwardLoop({ status, passes, sleep, isStopped, insideWindow, now, windows: uplink.windows, pollMs, backoff, random }).catch((error: unknown) => {
    log(`uplink: stopped on an unexpected error: ${error instanceof Error ? error.message : String(error)}`);
  });

  return {
    status: () => ({ ...status }),
    async forwardNow() {
      if (isStopped()) return fail(appError('UNAVAILABLE', 'The uplink is stopped', 'Restart the agent to forward again.'));
      if (!insideWindow()) {
        return fail(appError('UNAVAILABLE', 'Outside the uplink time windows', 'Forwarding runs inside config.uplink.windows; the journal keeps everything until then.'));
      }
      const result = await passes.run();
      if (result.ok && status.state !== 'outside_window') status.state = 'idle';
      // Let the loop notice what happened (a success ends its backoff).
      if (result.ok) wake();
      return result;
    },
    async stop() {
      life.stopped = true;
      abort.abort();
      wake();
      await running;
      await passes.settled();
      await writer.close();
      status.state = 'off';
    },
  };
}
