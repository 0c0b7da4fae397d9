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
import { batchDeduplicationToken } from '../../shared/clickhouseSchema.ts';
import type { TelemetryLossRow, TelemetryRow } from '../../shared/clickhouseSchema.ts';
import { appError, fail, ok } from '../../shared/errors.ts';
import type { AppError, Result } from '../../shared/errors.ts';
import type { JournalRecord } from '../../shared/journal.ts';
import type { Journal } from '../journal/journalApi.ts';
import { createClickHouseWriter } from './clickhouseWriter.ts';
import type { ClickHouseWriter, UplinkConfig } from './clickhouseWriter.ts';
import { isInsideWindows, msUntilWindowOpens } from './uplinkWindows.ts';
import type { UplinkStatus } from './uplinkStatus.ts';
import { UPLINK_OFF } from './uplinkStatus.ts';

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

export type ForwardSummary = { records: number; losses: number; through_seq: number };

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

export const UPLINK_COURIER_ID = 'uplink';
const DEFAULT_BACKOFF = { initialMs: 1_000, maxMs: 5 * 60_000 };
/** Without a cap, a batch's payloads stay below this (memory on a 1 GB Pi). */
const MAX_BATCH_PAYLOAD_BYTES = 8 * 1024 * 1024;
/** With a cap, a batch is about one second's worth, so pacing is smooth. */
const MIN_CAPPED_BATCH_BYTES = 16 * 1024;
/** Re-check windows at least this often (clock set by NTP, DST). */
const WINDOW_RECHECK_MS = 60_000;

/** Delay before retry number `failures` (1-based): exponential, "equal jitter" (half fixed, half random). */
export function backoffDelay(failures: number, initialMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** An AppError that says what went wrong with ClickHouse and what to check. */
export function describeUplinkError(error: unknown, url: string): AppError {
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || /socket hang up|timeout/i.test(message)) {
    return appError('UNAVAILABLE', `ClickHouse at ${url} is not reachable (${code === '' ? message : code})`, 'The uplink retries with backoff; check the network and config.uplink.url. Nothing is lost: the journal keeps every record until it is forwarded.');
  }
  if (code === '516' || code === '192' || /authentication|password/i.test(message)) {
    return appError('PERMISSION_DENIED', `ClickHouse refused the credentials: ${message}`, 'Fix config.uplink.username / password; the uplink retries with backoff.');
  }
  // @clickhouse/client's errors carry the server's code and name apart from the text.
  const type = typeof error === 'object' && error !== null && 'type' in error && typeof error.type === 'string' ? error.type : '';
  const label = code === '' ? '' : ` (code ${code}${type === '' ? '' : ` ${type}`})`;
  return appError('UNAVAILABLE', `ClickHouse did not accept the batch${label}: ${message.trim()}`, 'The uplink retries with backoff; if this persists, check the server log and that the tables match shared/clickhouseSchema.ts.');
}

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

function runUplink(options: UplinkOptions, uplink: UplinkConfig): Uplink {
  const { config, journal } = options;
  const now = options.now ?? Date.now;
  const log = options.log ?? ((): void => undefined);
  const pollMs = options.pollMs ?? 1_000;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const random = options.random ?? Math.random;
  const writer = options.writer ?? createClickHouseWriter(uplink);
  const cap = uplink.max_bytes_per_s;

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
  let failures = 0;
  /** The batch that failed, retried with the same boundaries. */
  let retry: { after: number; through: number } | null = null;
  /** Wire bytes per payload byte, learnt from each batch (gzip ratio plus JSON overhead). */
  let wirePerPayloadByte = 1;
  let nextSendAt = 0;
  const abort = new AbortController();
  let wakeSleeper: (() => void) | null = null;
  let chain: Promise<unknown> = Promise.resolve();

  function safeForwardedSeq(): number {
    try {
      return journal.info().forwarded_seq;
    } catch {
      return 0;
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        wakeSleeper = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      wakeSleeper = done;
    });
  }

  function insideWindow(): boolean {
    return isInsideWindows(uplink.windows, new Date(now()));
  }

  function toRow(r: JournalRecord): TelemetryRow {
    return {
      device_id: r.device_id, journal_id: r.journal_id, seq: r.seq, ts_ms: r.ts_ms, recv_ms: r.recv_ms,
      priority: r.priority, kind: r.kind, model_version: r.model_version, payload: r.payload,
      site: config.site, via: UPLINK_COURIER_ID, clock_offset_ms: 0,
    };
  }

  function batchPayloadBytes(): number {
    if (cap === null) return MAX_BATCH_PAYLOAD_BYTES;
    return Math.min(MAX_BATCH_PAYLOAD_BYTES, Math.max(MIN_CAPPED_BATCH_BYTES, Math.floor(cap / wirePerPayloadByte)));
  }

  /** Waits until the cap allows the next batch. */
  async function pace(): Promise<void> {
    while (!isStopped() && cap !== null && Date.now() < nextSendAt) await sleep(nextSendAt - Date.now());
  }

  /** One batch: losses in its range, then its records, then the watermark. Null when caught up. */
  async function forwardBatch(): Promise<ForwardSummary | null> {
    const info = journal.info();
    const forwarded = info.forwarded_seq;
    if (retry !== null && retry.after !== forwarded) retry = null;
    if (info.last_seq <= forwarded) return null;
    const after = retry?.after ?? forwarded;
    let records = journal.read({ after_seq: after, limit: uplink.batch_rows, max_bytes: batchPayloadBytes() });
    if (retry !== null) {
      const through = retry.through;
      records = records.filter((r) => r.seq <= through);
    }
    const lastRecord = records.at(-1);
    const lossesAfter = journal.losses(after);
    // Nothing held after the watermark but losses: the tail was dropped; forwarding the
    // loss records explains it, and the watermark may then cover it.
    const lossesThrough = Math.min(info.last_seq, lossesAfter.reduce((max, l) => Math.max(max, l.to_seq), 0));
    const through = retry?.through ?? (lastRecord?.seq ?? lossesThrough);
    if (through <= after) return null;
    const pendingLosses = lossesAfter.filter((l) => l.from_seq <= through);
    retry = { after, through };

    status.state = 'forwarding';
    await pace();
    if (isStopped()) throw new Error('uplink stopped');
    const token = batchDeduplicationToken(journal.deviceId, journal.journalId, after + 1, through);
    const bytesBefore = writer.wireBytes();
    const sendStart = Date.now();
    status.server_version ??= await writer.serverVersion(abort.signal);
    const lossRows: TelemetryLossRow[] = pendingLosses.map((l) => ({ ...l, site: config.site, via: UPLINK_COURIER_ID }));
    await writer.insertLosses(lossRows, token, abort.signal);
    await writer.insertRows(records.map(toRow), token, abort.signal);

    // Acknowledged by the server: only now may the watermark move.
    const at = now();
    status.forwarded_seq = journal.ackForwarded(UPLINK_COURIER_ID, through, at);
    retry = null;
    const sent = writer.wireBytes() - bytesBefore;
    status.bytes_sent += sent;
    status.batches += 1;
    status.last_forward_ms = at;
    status.last_error = null;
    const payloadBytes = records.reduce((sum, r) => sum + r.payload.length, 0);
    if (payloadBytes > 0) wirePerPayloadByte = Math.min(4, Math.max(0.02, sent / payloadBytes));
    if (cap !== null) nextSendAt = sendStart + (sent / cap) * 1000;
    return { records: records.length, losses: lossRows.length, through_seq: through };
  }

  /** Forwards until caught up, out of window, stopped or failed. */
  async function drain(): Promise<Result<ForwardSummary>> {
    const total: ForwardSummary = { records: 0, losses: 0, through_seq: status.forwarded_seq };
    try {
      while (!isStopped() && insideWindow()) {
        const batch = await forwardBatch();
        if (batch === null) break;
        total.records += batch.records;
        total.losses += batch.losses;
        total.through_seq = batch.through_seq;
      }
      failures = 0;
      status.forwarded_seq = safeForwardedSeq();
      total.through_seq = status.forwarded_seq;
      return ok(total);
    } catch (error) {
      const described = describeUplinkError(error, uplink.url);
      if (!isStopped()) {
        failures += 1;
        status.last_error = described.message;
        log(`uplink: ${described.message}`);
      }
      return fail(described);
    }
  }

  /** Passes run one at a time, whether the loop or forwardNow started them. */
  function serialized(): Promise<Result<ForwardSummary>> {
    const next = chain.then(drain);
    chain = next.catch(() => undefined);
    return next;
  }

  async function loop(): Promise<void> {
    while (!isStopped()) {
      if (!insideWindow()) {
        status.state = 'outside_window';
        const wait = Math.min(WINDOW_RECHECK_MS, Math.max(1_000, msUntilWindowOpens(uplink.windows, new Date(now()))));
        status.next_attempt_ms = now() + wait;
        await sleep(wait);
        continue;
      }
      const result = await serialized();
      if (isStopped()) break;
      if (result.ok) {
        status.state = 'idle';
        status.next_attempt_ms = null;
        await sleep(pollMs);
      } else {
        status.state = 'backoff';
        const delay = backoffDelay(failures, backoff.initialMs, backoff.maxMs, random);
        status.next_attempt_ms = now() + delay;
        await sleep(delay);
      }
    }
  }

  const running = loop().catch((error: unknown) => {
    log(`uplink: stopped on an unexpected error: ${error instanceof Error ? error.message : String(error)}`);
  });

  return {
    status: () => ({ ...status }),
    async forwardNow() {
      if (isStopped()) return fail(appError('UNAVAILABLE', 'The uplink is stopped', 'Restart the agent to forward again.'));
      if (!insideWindow()) {
        return fail(appError('UNAVAILABLE', 'Outside the uplink time windows', 'Forwarding runs inside config.uplink.windows; the journal keeps everything until then.'));
      }
      const result = await serialized();
      if (result.ok && status.state !== 'outside_window') status.state = 'idle';
      // Let the loop notice what happened (a success ends its backoff).
      if (result.ok) wakeSleeper?.();
      return result;
    },
    async stop() {
      life.stopped = true;
      abort.abort();
      wakeSleeper?.();
      await running;
      await chain;
      await writer.close();
      status.state = 'off';
    },
  };
}
