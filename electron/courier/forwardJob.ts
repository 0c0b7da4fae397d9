/**
 * The forward job: send what this laptop holds to ClickHouse, exactly once in effect.
 *
 * - Per journal, loss records first (a gap never arrives unexplained), then records in
 *   seq order, in batches of `batchRows`. A batch is the next pending rows in key order,
 *   so after a crash the same rows form the same batch again, with the same
 *   insert_deduplication_token on servers that take one (22.2+); on older servers the
 *   ReplacingMergeTree key (device_id, journal_id, seq) collapses a batch sent twice.
 * - A batch is marked forwarded only after the server acknowledged it, in one
 *   transaction, by its exact seqs (a pull running beside us may add rows in between).
 * - An unreachable server is retried with exponential backoff for `retryForMs`; then
 *   the job fails with UNAVAILABLE and the next forward resumes (nothing is lost).
 * - A batch the server refuses is split in halves until the refused rows stand alone;
 *   those go to the quarantine with the server's reason, the rest are forwarded.
 * - Cancel is honoured between batches: a batch in flight lands and is marked, or is
 *   sent again next time.
 */
import { z } from 'zod';
import { batchDeduplicationToken, TELEMETRY_INSERT_COLUMNS, TELEMETRY_LOSS_INSERT_COLUMNS } from '../../shared/clickhouseSchema.ts';
import { BatchRowsSchema } from '../../shared/clickhouseSettings.ts';
import type { ForwardResult } from '../../shared/courier.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { JobCancelledError, throwIfCancelled, type JobContext } from '../kernel/jobs/jobContext.ts';
import { CLICKHOUSE_PASSWORD_SECRET, loadClickHouseSettings } from './clickhouseSettingsStore.ts';
import { openStore, type Store } from '../kernel/store/openStore.ts';
import { describeClickHouseFailure, openClickHouse, type ClickHouseConnection, type DescribedFailure } from './clickhouseConnection.ts';
import { createCourierStore, createForwardQueue, type ForwardLine, type PendingRecordsQuery } from './courierStore.ts';
import { forwardHealthHistory } from './forwardHealth.ts';
import { createHealthHistoryStore } from './healthHistoryStore.ts';
import { createQuarantineStore, type QuarantineStore } from './quarantineStore.ts';

export const ForwardParamsSchema = z.object({
  dataDir: z.string(),
  batchRows: BatchRowsSchema.optional(),
  retryForMs: z.number().int().nonnegative().default(60_000),
});
export type ForwardParams = z.infer<typeof ForwardParamsSchema>;

const BACKOFF_INITIAL_MS = 500;
const BACKOFF_MAX_MS = 15_000;

type Line = ForwardLine;
type Journal = { device_id: string; journal_id: string };

export async function runForward(params: ForwardParams, ctx: JobContext): Promise<ForwardResult> {
  const db = openStore(params.dataDir);
  try {
    const settings = loadClickHouseSettings(db);
    if (settings === null) {
      throw new FieldkitError(appError('NOT_FOUND', 'No ClickHouse server is set up yet.', 'Set one in Settings → ClickHouse, or: fieldkit settings clickhouse --url https://… --user … --password-stdin'));
    }
    const connection = openClickHouse({ settings, password: ctx.secrets[CLICKHOUSE_PASSWORD_SECRET] ?? '' });
    try {
      return await forward(db, connection, { ...params, batchRows: params.batchRows ?? settings.batchRows }, ctx);
    } finally {
      await connection.close();
    }
  } finally {
    db.close();
  }
}

async function forward(db: Store, connection: ClickHouseConnection, params: ForwardParams & { batchRows: number }, ctx: JobContext): Promise<ForwardResult> {
  const courier = createCourierStore(db);
  const queue = createForwardQueue(db);
  const quarantine = createQuarantineStore(db);
  const lossVia = `courier:${courier.courierId()}`;
  const stats = { forwarded: 0, lossesForwarded: 0, batches: 0, quarantined: 0, retries: 0 };
  const started = performance.now();
  let phase = 'connecting';
  let done = 0;
  let total: number | null = null;
  const report = (): void => {
    ctx.progress({ phase, bytesDone: done, bytesTotal: total, unit: 'items' });
  };
  report();

  /** Runs `call` until it succeeds, fails for a reason a retry cannot fix, or the retry budget is spent. */
  async function withRetry<T>(call: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + params.retryForMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (error instanceof JobCancelledError || error instanceof FieldkitError) throw error;
        const failure = describeClickHouseFailure(error, connection.url);
        // Refused data goes back to the batch's sender to split; anything else no retry fixes ends the job.
        if (failure.kind === 'rejected') throw new FailureError(failure, error);
        if (failure.kind === 'fatal') throw new FieldkitError(failure.error, { cause: error });
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
        if (Date.now() + delay > deadline) {
          throw new FieldkitError(
            appError(
              'UNAVAILABLE',
              `${failure.error.message} Gave up after ${attempt} attempts over ${Math.round(params.retryForMs / 1000)} s.`,
              'Forward again when the server is reachable: it resumes where this one stopped, and nothing is lost or sent twice.',
            ),
            { cause: error },
          );
        }
        stats.retries += 1;
        const previous = phase;
        phase = `waiting for ClickHouse (attempt ${attempt + 1} in ${Math.round(delay / 100) / 10} s)`;
        report();
        ctx.log('warn', `${failure.error.message} Retrying in ${Math.round(delay / 100) / 10} s.`);
        await sleep(delay, ctx.signal);
        phase = previous;
      }
    }
  }

  const version = await withRetry(() => connection.serverVersion());
  const dedupTokens = await connection.dedupTokens();
  ctx.log('info', `ClickHouse ${version} at ${connection.url}${dedupTokens ? ', with insert_deduplication_token' : '; deduplication by the table key'}.`);
  // A server set up before health history was forwarded has the journal tables only: complete it.
  if (!(await withRetry(() => connection.tablesExist())) || !(await withRetry(() => connection.healthTablesExist()))) {
    phase = 'creating tables';
    report();
    await withRetry(() => connection.ensureSchema());
    ctx.log('info', `Created ${connection.table}, ${connection.lossTable}, ${connection.healthMinutesTable} and ${connection.healthEventsTable} (where missing).`);
  }

  // Rows held but not yet in ClickHouse, quarantined ones aside.
  total = Math.max(0, queue.unforwardedRecords() - quarantine.setAsideRecords());
  phase = 'forwarding';
  report();

  for (const journal of queue.journals()) {
    const deliverer = createDeliverer({ connection, quarantine, journal, dedupTokens, withRetry, ctx, stats, onPhase: (p) => { phase = p; report(); } });
    // Loss records first: they explain the gaps in the records that follow.
    for (;;) {
      throwIfCancelled(ctx.signal);
      const losses = queue.pendingLosses(journal.device_id, journal.journal_id, params.batchRows).map((l): Line => ({
        seq: l.from_seq,
        to_seq: l.to_seq,
        priority: l.priority,
        line: JSON.stringify({ ...l, via: lossVia }) + '\n',
      }));
      if (losses.length === 0) break;
      await deliverer.deliver('loss', batchOfLines(losses), (landed) => {
        const now = Date.now();
        const lines = landed.lines();
        db.transaction(() => {
          queue.markLossesForwarded(journal.device_id, journal.journal_id, lines, now);
          quarantine.forgetRequeued('loss', journal.device_id, journal.journal_id, landed.first, landed.last);
        })();
        stats.lossesForwarded += landed.count;
      });
    }

    const readBatch = (after: number): Batch | null => {
      const query: PendingRecordsQuery = { device_id: journal.device_id, journal_id: journal.journal_id, after, through: Number.MAX_SAFE_INTEGER, limit: params.batchRows };
      // The whole batch as one string, written by SQLite: no row objects, no JSON.stringify per row in JS.
      const head = queue.recordBatch(query);
      if (head === null) return null;
      if (head.count !== head.last - head.first + 1) {
        // Holes (rows quarantined, or not pulled yet between safety events): a pull beside us
        // may fill them, so the rows are fixed now, in one read, and marked by their seqs.
        return batchOfLines(queue.recordLines(query));
      }
      // Hole-free: every seq from first to last is in the batch, and no new row can appear
      // among them, so the rows can be listed later if the batch has to be split.
      const { last } = head;
      let lines: Line[] | null = null;
      return { ...head, lines: () => (lines ??= queue.recordLines({ ...query, through: last })) };
    };
    const markLanded = (landed: Batch): void => {
      const now = Date.now();
      // A batch without holes covers every seq from first to last: one range marks it exactly.
      const runs: [number, number][] = landed.count === landed.last - landed.first + 1 ? [[landed.first, landed.last]] : seqRuns(landed.lines());
      db.transaction(() => {
        queue.markRecordsForwarded(journal.device_id, journal.journal_id, runs, now);
        quarantine.forgetRequeued('record', journal.device_id, journal.journal_id, landed.first, landed.last);
      })();
      stats.forwarded += landed.count;
      stats.batches += 1;
      done += landed.count;
      report();
    };

    const start = queue.firstPendingSeq(journal.device_id, journal.journal_id);
    for (let batch = start === null ? null : readBatch(start - 1); batch !== null; ) {
      throwIfCancelled(ctx.signal);
      // One batch on the wire while the next is read; each is marked the moment the server confirms it.
      let bodySent: () => void = () => undefined;
      const sent = new Promise<void>((resolve) => (bodySent = resolve));
      const sending = deliverer.deliver('record', batch, markLanded, () => {
        done += 1;
      }, bodySent);
      // Read the next batch once this one has left (or failed): reading blocks this thread.
      await Promise.race([sent, sending.catch(() => undefined)]);
      const next = readBatch(batch.last);
      await sending;
      batch = next;
    }
  }

  // Health history after the journals: records matter more when time on the network is short.
  phase = 'forwarding health history';
  report();
  const health = { minutes: 0, events: 0 };
  try {
    Object.assign(
      health,
      await forwardHealthHistory({
        history: createHealthHistoryStore(db),
        siteOf: (deviceId) => courier.latestSite(deviceId),
        minutesTable: connection.healthMinutesTable,
        eventsTable: connection.healthEventsTable,
        via: lossVia,
        batchRows: params.batchRows,
        dedupTokens,
        signal: ctx.signal,
        insert: (table, columns, body, token) => withRetry(() => connection.insertJsonLines(table, columns, body, token)),
      }),
    );
  } catch (error) {
    // Refused health rows stay here, pending, and are offered again next time; they never hold back the journals.
    if (!(error instanceof FailureError)) throw error;
    ctx.log('warn', `ClickHouse refused health history (${error.failure.error.message}); it stays on this laptop and is sent again on the next forward.`);
  }
  if (health.minutes + health.events > 0) ctx.log('info', `Health history: ${health.minutes} minutes and ${health.events} events forwarded.`);

  phase = 'done';
  report();
  const seconds = (performance.now() - started) / 1000;
  return {
    serverVersion: version,
    dedupTokens,
    forwarded: stats.forwarded,
    lossesForwarded: stats.lossesForwarded,
    batches: stats.batches,
    quarantined: stats.quarantined,
    pending: Math.max(0, total - done),
    retries: stats.retries,
    healthMinutesForwarded: health.minutes,
    healthEventsForwarded: health.events,
    rowsPerSec: seconds > 0 ? Math.round(stats.forwarded / seconds) : 0,
  };
}

class FailureError extends Error {
  readonly failure: DescribedFailure;
  constructor(failure: DescribedFailure, cause: unknown) {
    super(failure.error.message, { cause });
    this.failure = failure;
  }
}

/** Consecutive runs of seqs in sorted lines: [from, to] pairs. */
export function seqRuns(lines: readonly { seq: number }[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const { seq } of lines) {
    const run = runs.at(-1);
    if (run !== undefined && seq === run[1] + 1) run[1] = seq;
    else runs.push([seq, seq]);
  }
  return runs;
}

/**
 * What one insert carries: the first and last seq (or loss range start), how many rows,
 * the JSONEachRow text, and the rows one by one when they are needed (marking a batch
 * with holes, or splitting one the server refused).
 */
export type Batch = { first: number; last: number; count: number; body: string; lines: () => readonly Line[] };

function batchOfLines(lines: readonly Line[]): Batch {
  return { first: lines[0]?.seq ?? 0, last: lines.at(-1)?.seq ?? 0, count: lines.length, body: lines.map((l) => l.line).join(''), lines: () => lines };
}

/**
 * The token of one insert: the shared per-journal form for a contiguous range (the same
 * the agent's uplink makes), with the row count added when the range has holes, so a
 * batch with a row set aside never shares a token with the whole range.
 */
export function forwardToken(kind: 'record' | 'loss', journal: Journal, batch: Pick<Batch, 'first' | 'last' | 'count'>): string {
  const base = batchDeduplicationToken(journal.device_id, journal.journal_id, batch.first, batch.last);
  if (kind === 'loss') return `${base}:loss:n${batch.count}`;
  return batch.count === batch.last - batch.first + 1 ? base : `${base}:n${batch.count}`;
}

function createDeliverer(deps: {
  connection: ClickHouseConnection;
  quarantine: QuarantineStore;
  journal: Journal;
  dedupTokens: boolean;
  withRetry: <T>(call: () => Promise<T>) => Promise<T>;
  ctx: JobContext;
  stats: { quarantined: number };
  onPhase: (phase: string) => void;
}) {
  const { connection, journal } = deps;
  return {
    /**
     * Inserts `batch`; on a refusal, halves until the refused rows stand alone and
     * quarantines those. `landed` runs once per acknowledged insert, in seq order.
     */
    async deliver(kind: 'record' | 'loss', batch: Batch, landed: (batch: Batch) => void, setAside?: () => void, bodySent?: () => void): Promise<void> {
      const table = kind === 'record' ? connection.table : connection.lossTable;
      const columns = kind === 'record' ? TELEMETRY_INSERT_COLUMNS : TELEMETRY_LOSS_INSERT_COLUMNS;
      const send = async (part: Batch): Promise<void> => {
        const token = deps.dedupTokens ? forwardToken(kind, journal, part) : null;
        try {
          await deps.withRetry(() => connection.insertJsonLines(table, columns, part.body, token, bodySent));
        } catch (error) {
          if (!(error instanceof FailureError) || error.failure.kind !== 'rejected') {
            throw error instanceof FailureError ? new FieldkitError(error.failure.error, { cause: error }) : error;
          }
          const lines = part.lines();
          const only = lines[0];
          if (lines.length === 1 && only !== undefined) {
            deps.quarantine.quarantine(
              { kind, device_id: journal.device_id, journal_id: journal.journal_id, seq: only.seq, to_seq: only.to_seq, priority: only.priority },
              { reason: error.failure.error.message, serverCode: error.failure.serverCode, row: only.line, now: Date.now() },
            );
            deps.stats.quarantined += 1;
            setAside?.();
            deps.ctx.log('warn', `ClickHouse refused ${kind === 'record' ? `record ${journal.device_id} seq ${only.seq}` : `loss record ${journal.device_id} seq ${only.seq}-${only.to_seq}`}; set aside in the quarantine: ${error.failure.error.message}`);
            return;
          }
          deps.onPhase('isolating refused rows');
          const half = Math.ceil(lines.length / 2);
          await send(batchOfLines(lines.slice(0, half)));
          await send(batchOfLines(lines.slice(half)));
          deps.onPhase('forwarding');
          return;
        }
        landed(part);
      };
      if (batch.count > 0) await send(batch);
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      const reason: unknown = signal.reason;
      reject(new JobCancelledError(typeof reason === 'string' ? reason : 'cancelled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
